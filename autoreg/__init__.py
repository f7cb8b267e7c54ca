"""autoreg: see inside autoregressive models, step by step.

The core package (everything but ``autoreg.viz`` and ``autoreg.ui``) needs only torch and
numpy; it never imports streamlit or plotly.
"""

from autoreg.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from autoreg.pretrained import list_pretrained, load_model_bytes, load_pretrained
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.sampling import sample
from autoreg.seq.trace import Trace, trace

__all__ = [
    "Checkpoint",
    "SequenceConfig",
    "SequenceModel",
    "Trace",
    "list_pretrained",
    "load_checkpoint",
    "load_model_bytes",
    "load_pretrained",
    "sample",
    "save_checkpoint",
    "trace",
]
