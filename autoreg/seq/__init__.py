"""The sequence family: character and word models (RNN, LSTM, GRU), their exact traces,
sampling, training, and the probes behind the Units and Memory pages."""
