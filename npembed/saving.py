"""Saving and loading a Sequential model as one .npz: weights, optimizer state, JSON config; no pickle.

Layout: ``weights/<layer>/<key>`` for every weight, ``optimizer/m/<layer>/<key>`` and
``optimizer/v/<layer>/<key>`` for Adam's slots once it has stepped, and ``config``: the UTF-8 JSON of
``Sequential.get_config()``. Loading never unpickles, and it checks every member's declared shape
against the sizes the layers report and the bytes the member really holds before reading it.
"""
import json
import zipfile

import numpy as np

from . import _checks, optimizers
from .atomic import atomic_write
from .layers import from_config, shapes_through

FORMAT = "npembed.Sequential"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1 << 20


def model_config(model):
    """A built Sequential's config: everything but the weights, as JSON-able values."""
    config = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": model.name,
        "seed": model.seed, "dtype": model.dtype.name, "input_shape": list(model.input_shape),
        "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "weights": [[key, list(value.shape)] for key, value in model.params.items()],
        "rng_state": model.rng.bit_generator.state,
        "compile": None,
    }
    if model.optimizer is not None:
        slots = model.optimizer.get_state()
        slot_keys = sorted(slots[model.optimizer.slot_names()[0]]) if model.optimizer.slot_names() else []
        config["compile"] = {"optimizer": {"class": type(model.optimizer).__name__,
                                           "config": model.optimizer.get_config(),
                                           "iterations": model.optimizer.iterations,
                                           "slot_keys": slot_keys},       # the weights it has state for
                             "loss": model.loss, "metrics": model.metrics}
    return config


def save_model(model, path):
    """Write model (built) to path atomically: a reader sees the old file or the whole new one."""
    config = model.get_config()
    arrays = {f"weights/{key}": value for key, value in model.params.items()}
    if model.optimizer is not None:
        state = model.optimizer.get_state()
        for slot in model.optimizer.slot_names():
            arrays.update({f"optimizer/{slot}/{key}": value for key, value in state[slot].items()})
    arrays["config"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


MAX_DEFLATE_RATIO = 1100       # deflate expands at most ~1032:1; a zip claiming more is lying


def save_weights(params, path):
    """Write {name: array} as ``weights/<name>`` members of one .npz, atomically."""
    with atomic_write(path) as handle:
        np.savez(handle, **{f"weights/{key}": value for key, value in params.items()})


def load_weights(path, shapes):
    """The arrays stored for the weights named in ``shapes`` ({name: shape}), in that order; each
    member checked against its shape and the file's real size before it is read."""
    archive, file_bytes = _open_npz(path)
    with archive:
        try:
            missing = [key for key in shapes if f"weights/{key}" not in archive.files]
            if missing:
                raise ValueError(f"it has no weights named {missing} (it has "
                                 f"{[name[8:] for name in archive.files if name.startswith('weights/')]})")
            return [_read_member(archive, f"weights/{key}", shape, file_bytes) for key, shape in shapes.items()]
        except (KeyError, ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path} does not hold this model's weights ({error})") from None


def _open_npz(path):
    """(NpzFile, file size) of a regular .npz file; ValueError or OSError naming it otherwise."""
    status = _checks.regular_file(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not an npembed model or weights file (.npz): {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not an npembed model or weights file: it holds a single array, not an .npz")
    return archive, status.st_size


def load_model(path):
    """Read a model written by Sequential.save; never unpickles. Predictions are reproduced exactly.

    Only a regular file is read, and no member is read beyond what the file can really hold: its
    size as stored (at most the file's size) and, when compressed, at most 1100 times that.
    """
    archive, file_bytes = _open_npz(path)
    with archive:
        try:
            return _model_from_archive(archive, file_bytes)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, EOFError, OSError,
                zipfile.BadZipFile, UnicodeDecodeError, RecursionError, OverflowError) as error:
            # RecursionError: JSON nested thousands deep; OverflowError: Infinity or a 200-bit int
            raise ValueError(f"{path} is not a valid npembed model file "
                             f"({type(error).__name__}: {str(error)[:300]})") from None


def _member_header(archive, name, file_bytes):
    """(shape, dtype, bytes after the header) of an .npz member, from its header only: nothing big
    is read, and the member's size is bounded by the file's real size."""
    info = archive.zip.getinfo(f"{name}.npy")
    stored_limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO)
    if info.compress_size > file_bytes or info.file_size > stored_limit:
        raise ValueError(f"member {name!r} claims {info.file_size} bytes from {info.compress_size} "
                         f"stored in a file of {file_bytes} bytes")
    with archive.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"member {name!r} has an unsupported .npy version {version}")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(member, max_header_size=10_000)
        return shape, dtype, info.file_size - member.tell()


def _read_member(archive, name, shape, file_bytes, dtype=None):
    """The member's array, once its header shows ``shape`` (and ``dtype``, if given) and the member
    really holds those bytes: what a header merely declares is never allocated."""
    member_shape, member_dtype, stored = _member_header(archive, name, file_bytes)
    if member_shape != tuple(shape):
        raise ValueError(f"member {name!r} is stored with shape {member_shape}, expected {tuple(shape)}")
    if dtype is not None and member_dtype != np.dtype(dtype):
        raise ValueError(f"member {name!r} is stored as {member_dtype}, expected {np.dtype(dtype)}")
    if member_dtype.hasobject or stored < int(np.prod(shape, dtype=np.float64)) * member_dtype.itemsize:
        raise ValueError(f"member {name!r} declares {tuple(shape)} {member_dtype} but holds only {stored} bytes")
    return archive[name]


def _read_config(archive, file_bytes):
    """The JSON config of a model file: a 1-D uint8 member of at most MAX_CONFIG_BYTES, read like
    every other member (its declared size checked against what it holds)."""
    shape = _member_header(archive, "config", file_bytes)[0]
    if len(shape) != 1 or shape[0] > MAX_CONFIG_BYTES:
        raise ValueError(f"its config declares shape {shape}: larger than any npembed config "
                         f"({MAX_CONFIG_BYTES} bytes)")
    return json.loads(bytes(_read_member(archive, "config", shape, file_bytes, np.uint8)).decode("utf-8"))


def _model_from_archive(archive, file_bytes):
    from .models import Sequential
    config = _read_config(archive, file_bytes)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError("its config does not name the npembed.Sequential format")
    if config.get("version") != FORMAT_VERSION:
        raise ValueError(f"format version {config.get('version')!r} is not supported")
    layers = [from_config(entry["class"], entry["config"]) for entry in config["layers"]]
    model = Sequential(layers, seed=config["seed"], dtype=config["dtype"], name=config["name"])
    # the sizes come from the layers, and must be those stored: building then allocates nothing more
    expected, _ = shapes_through(model.layers, config["input_shape"])
    stored = {key: tuple(int(n) for n in shape) for key, shape in config["weights"]}
    if stored != expected:
        raise ValueError(f"the layers declare weights {expected}, the file holds {stored}")
    weights = [_read_member(archive, f"weights/{key}", shape, file_bytes) for key, shape in expected.items()]
    model.build(tuple(config["input_shape"]), weights=weights)     # nothing drawn, checked and copied
    model.rng.bit_generator.state = config["rng_state"]
    compiled = config.get("compile")
    if compiled:
        optimizer = optimizers.OPTIMIZERS[compiled["optimizer"]["class"].lower()](
            **compiled["optimizer"]["config"])
        model.compile(optimizer, compiled["loss"], compiled["metrics"])
        iterations = _checks.positive_int("iterations", compiled["optimizer"]["iterations"], 0)
        keys = compiled["optimizer"].get("slot_keys", list(expected))     # files before slot_keys: all
        if not isinstance(keys, list) or not set(keys) <= set(expected):
            raise ValueError(f"optimizer slot_keys {keys!r} are not weights of the model")
        slots = {slot: {key: _read_member(archive, f"optimizer/{slot}/{key}", expected[key], file_bytes)
                        for key in keys} if iterations else {}
                 for slot in optimizer.slot_names()}
        optimizer.set_state({"iterations": iterations, **slots}, model.params)
    return model
