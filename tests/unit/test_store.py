"""The per-browser model store: isolation, caps, expiry, damaged files, atomic writes."""

from __future__ import annotations

import os
import pickle
import time

import pytest
import torch

from autoreg import store as store_module
from autoreg.store import ModelStore, model_key, new_owner_id, valid_owner_id

CARD = {"format": "autoreg", "version": 1, "kind": "sequence", "config": {"hidden_size": 4}}


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, now: float | None = None) -> None:
        self.now = float(int(time.time())) if now is None else now

    def __call__(self) -> float:
        return self.now


def weights(n: int = 4, fill: float = 1.0) -> dict[str, torch.Tensor]:
    return {"w": torch.full((n,), fill), "b": torch.arange(3, dtype=torch.float32)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> ModelStore:
    return ModelStore(tmp_path / "models", clock=clock)


def test_owner_ids_are_random_and_checked():
    a, b = new_owner_id(), new_owner_id()
    assert a != b and valid_owner_id(a) and len(a) >= 32
    for bad in ("", "short", "../" + a, a + "/x", a.replace(a[0], "."), None, 42):
        assert not valid_owner_id(bad)


def test_save_list_load_round_trip(store, clock):
    owner = new_owner_id()
    saved = store.save(owner, "lstm-char-python-docs #1", weights(fill=2.5), CARD)
    assert saved.key == model_key("lstm-char-python-docs #1")
    (listed,) = store.list(owner)
    assert (listed.label, listed.card, listed.error) == ("lstm-char-python-docs #1", CARD, None)
    assert listed.saved_at == clock.now and listed.n_bytes == saved.n_bytes
    ckpt = store.load(owner, listed.key)
    assert ckpt.card == CARD
    assert torch.equal(ckpt.tensors["w"], torch.full((4,), 2.5))


def test_files_are_plain_safetensors_never_pickles(store):
    owner = new_owner_id()
    saved = store.save(owner, "mine", weights(), CARD)
    data = (store.root / owner / f"{saved.key}.safetensors").read_bytes()
    assert data[8:9] == b"{"  # a safetensors header, not a pickle opcode
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)


def test_owners_never_see_each_other(store):
    a, b = new_owner_id(), new_owner_id()
    saved = store.save(a, "a's model", weights(), CARD)
    assert [m.label for m in store.list(a)] == ["a's model"]
    assert store.list(b) == []
    with pytest.raises(ValueError, match="no longer kept"):
        store.load(b, saved.key)  # knowing the key is not enough without the owner id
    for bad in ("../" + a, a[:10], "", "x" * 100):
        with pytest.raises(ValueError, match="owner id"):
            store.list(bad)
    with pytest.raises(ValueError, match="key"):
        store.load(a, "../" + saved.key)


def test_same_label_replaces_the_model(store):
    owner = new_owner_id()
    store.save(owner, "mine (uploaded)", weights(fill=1.0), CARD)
    store.save(owner, "mine (uploaded)", weights(fill=7.0), CARD)
    (only,) = store.list(owner)
    assert torch.equal(store.load(owner, only.key).tensors["w"], torch.full((4,), 7.0))


def test_count_cap_evicts_the_least_recently_used(tmp_path, clock):
    store = ModelStore(tmp_path, max_models_per_owner=3, clock=clock)
    owner = new_owner_id()
    for i in range(3):
        store.save(owner, f"m{i}", weights(), CARD)
        clock.now += 10
    store.load(owner, model_key("m0"))  # m0 is now the most recently used
    clock.now += 10
    store.save(owner, "m3", weights(), CARD)
    assert [m.label for m in store.list(owner)] == ["m0", "m2", "m3"]  # m1 went first


def test_byte_cap_per_owner_and_a_model_too_big_to_keep(tmp_path, clock):
    one = _size_of(weights(64), tmp_path)
    store = ModelStore(tmp_path, max_bytes_per_owner=int(2.5 * one), clock=clock)
    owner = new_owner_id()
    for i in range(3):
        store.save(owner, f"m{i}", weights(64), CARD)
        clock.now += 1
    assert [m.label for m in store.list(owner)] == ["m1", "m2"]
    assert store.used_bytes(owner) <= 2.5 * one
    with pytest.raises(ValueError, match="MB a browser may keep"):
        store.save(owner, "huge", weights(64 * 16), CARD)
    assert [m.label for m in store.list(owner)] == ["m1", "m2"]  # nothing written, nothing lost


def test_total_cap_evicts_the_oldest_of_any_owner(tmp_path, clock):
    one = _size_of(weights(64), tmp_path)
    store = ModelStore(tmp_path, max_bytes_total=int(3.5 * one), clock=clock)
    a, b = new_owner_id(), new_owner_id()
    for i, owner in enumerate((a, b, a, b)):
        store.save(owner, f"m{i}", weights(64), CARD)
        clock.now += 1
    assert [m.label for m in store.list(a)] == ["m2"]  # a's m0 was the oldest overall
    assert [m.label for m in store.list(b)] == ["m1", "m3"]
    assert store.used_bytes() <= 3.5 * one


def test_expiry_counts_from_the_last_use(store, clock):
    owner = new_owner_id()
    store.save(owner, "old", weights(), CARD)
    store.save(owner, "used", weights(), CARD)
    clock.now += store.max_age - 60
    store.load(owner, model_key("used"))
    clock.now += 120  # "old" is past the age now, "used" was opened two minutes ago
    assert [m.label for m in store.list(owner)] == ["used"]
    assert not (store.root / owner / f"{model_key('old')}.safetensors").exists()
    other = new_owner_id()
    store.save(other, "theirs", weights(), CARD)
    clock.now += store.max_age + 1
    assert store.purge() == 2  # purge covers every owner without listing them
    assert store.used_bytes() == 0


def test_damaged_files_are_refused_with_a_clear_message_and_deleted(store):
    owner = new_owner_id()
    saved = store.save(owner, "my run #1", weights(), CARD)
    path = store.root / owner / f"{saved.key}.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5])  # truncated: header fine, tensors cut short
    (listed,) = store.list(owner)
    assert listed.label == "my run #1"  # the header still names it
    with pytest.raises(ValueError, match=r"'my run #1' is damaged .* it was deleted"):
        store.load(owner, saved.key)
    assert not path.exists() and store.list(owner) == []

    junk = store.root / owner / f"{model_key('junk')}.safetensors"
    junk.write_bytes(b"\x80\x04" + pickle.dumps({"not": "weights"}))
    (listed,) = store.list(owner)
    assert listed.error is not None and "damaged" in listed.error and listed.card == {}
    with pytest.raises(ValueError, match="never unpickles"):
        store.load(owner, listed.key)
    assert not junk.exists()


def test_a_failed_write_leaves_the_previous_version_and_no_temporary_file(store, monkeypatch):
    owner = new_owner_id()
    store.save(owner, "mine", weights(fill=1.0), CARD)

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "replace", no_rename)
    with pytest.raises(OSError, match="No space"):
        store.save(owner, "mine", weights(fill=9.0), CARD)
    monkeypatch.undo()
    (only,) = store.list(owner)
    assert torch.equal(store.load(owner, only.key).tensors["w"], torch.full((4,), 1.0))
    assert sorted(p.name for p in (store.root / owner).iterdir()) == [f"{only.key}.safetensors"]


def test_a_write_cut_short_never_shows_up_as_a_model(store, monkeypatch):
    owner = new_owner_id()
    real_fsync = os.fsync

    def crash(fd):
        real_fsync(fd)
        raise KeyboardInterrupt  # the process is stopped between write and rename

    monkeypatch.setattr(store_module.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(owner, "first", weights(), CARD)
    monkeypatch.undo()
    assert store.list(owner) == []
    assert list((store.root / owner).iterdir()) == []


def test_cards_autoreg_cannot_open_are_refused_before_writing(store):
    owner = new_owner_id()
    with pytest.raises(ValueError, match="not made by autoreg"):
        store.save(owner, "foreign", weights(), {"kind": "sequence", "config": {}})
    with pytest.raises(ValueError, match="label"):
        store.save(owner, "  ", weights(), CARD)
    assert store.list(owner) == []


def test_the_default_folder_follows_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOREG_CACHE_DIR", str(tmp_path / "a"))
    store = ModelStore()
    assert store.root == tmp_path / "a" / "session-models"
    monkeypatch.setenv("AUTOREG_CACHE_DIR", str(tmp_path / "b"))  # looked up at each call
    owner = new_owner_id()
    store.save(owner, "m", weights(), CARD)
    assert (tmp_path / "b" / "session-models" / owner).is_dir()


def test_bounds_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        ModelStore(tmp_path, max_age=0)
    with pytest.raises(ValueError):
        ModelStore(tmp_path, max_models_per_owner=0)


def _size_of(tensors: dict[str, torch.Tensor], tmp_path) -> int:
    """What one model of these weights takes on disk (labels here have the same length)."""
    return ModelStore(tmp_path / "probe").save(new_owner_id(), "mx", tensors, CARD).n_bytes
