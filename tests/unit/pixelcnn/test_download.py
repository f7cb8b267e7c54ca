"""The MNIST downloader against an HTTP server this test starts on 127.0.0.1."""

import gzip
import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from autoreg.pixelcnn import data as download
from autoreg.pixelcnn.data import DownloadError, load_idx_dataset, parse_idx


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture
def served(tmp_path):
    """A folder of fake MNIST .gz files, their checksums, and a server for it."""
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 30), ("t10k", 10)):
        files[f"{split}-images-idx3-ubyte.gz"] = gzip.compress(
            idx_bytes(rng.integers(0, 256, (n, 28, 28)))
        )
        files[f"{split}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 10, (n,))))
    root = tmp_path / "www"
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield url, root, sums
    server.shutdown()
    server.server_close()


def test_download_check_and_cache(served, tmp_path):
    url, _, sums = served
    cache = tmp_path / "cache"
    d = load_idx_dataset("mnist", size=14, levels=4, url=url, root=cache, checksums=sums)
    assert d.train.shape == (30, 14, 14) and d.test.shape == (10, 14, 14)
    assert int(d.train.max()) <= 3
    cached = sorted(p.name for p in (cache / "mnist").iterdir())
    assert cached == sorted(sums)


def test_cached_files_are_used_offline(served, tmp_path):
    url, _, sums = served
    cache = tmp_path / "cache"
    download.download_dataset("mnist", url=url, root=cache, checksums=sums)
    # the server is unreachable now, but everything is cached and verified
    dead = "http://127.0.0.1:9/"
    paths = download.download_dataset("mnist", url=dead, root=cache, checksums=sums)
    assert all(p.exists() for p in paths.values())


def test_corrupt_file_is_refused_and_not_cached(served, tmp_path):
    url, root, sums = served
    name = "t10k-labels-idx1-ubyte.gz"
    (root / name).write_bytes(b"corrupted bytes")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="corrupt"):
        download.download_dataset("mnist", url=url, root=cache, checksums=sums)
    assert not (cache / "mnist" / name).exists()
    assert not list((cache / "mnist").glob("*.part"))


def test_offline_gives_a_clear_message(tmp_path):
    with pytest.raises(DownloadError, match="offline"):
        download.fetch("http://127.0.0.1:9/x.gz", tmp_path / "x.gz", "0" * 64, timeout=2)


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOREG_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert download.cache_dir() == tmp_path / "autoreg"
    monkeypatch.setenv("AUTOREG_CACHE_DIR", str(tmp_path / "mine"))
    assert download.cache_dir() == tmp_path / "mine"
    assert download.cache_dir("/x") == Path("/x")
    monkeypatch.delenv("AUTOREG_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert download.cache_dir() == Path.home() / ".cache" / "autoreg"


def test_base_url_override(monkeypatch):
    assert download.base_url("mnist").startswith("https://")
    monkeypatch.setenv("AUTOREG_FASHION_MNIST_URL", "http://127.0.0.1:1/f")
    assert download.base_url("fashion-mnist") == "http://127.0.0.1:1/f/"
    with pytest.raises(ValueError, match="Unknown download"):
        download.base_url("cifar")


def test_published_checksums_are_pinned():
    for _, sums in download.SOURCES.values():
        assert len(sums) == 4 and all(len(s) == 64 for s in sums.values())


def test_parse_idx_rejects_bad_files():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(idx_bytes(arr)), arr)
    with pytest.raises(ValueError, match="magic"):
        parse_idx(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="header says"):
        parse_idx(idx_bytes(arr)[:-1])


def test_bad_size_or_levels(served, tmp_path):
    url, _, sums = served
    with pytest.raises(ValueError, match="levels"):
        load_idx_dataset("mnist", levels=5, url=url, root=tmp_path, checksums=sums)
    with pytest.raises(ValueError, match="size=30"):
        load_idx_dataset("mnist", size=30, url=url, root=tmp_path, checksums=sums)
