"""Checkpoints that stay safe under torch's ``weights_only`` default.

torch >= 2.6 unpickles checkpoints with ``weights_only=True``: only tensors,
containers and an allow-list of globals may appear in the file. mmengine's own
training checkpoints carry a few more objects (its message hub holds
``HistoryBuffer`` objects with numpy arrays), so resume fails out of the box. This
module, applied by ``import mmext``:

* loads local checkpoints with ``weights_only=True`` and exactly the extra globals
  mmengine checkpoints need, scoped to that load (never process-wide, never by
  switching the safety off); any other pickled object is refused before it runs;
* stops mmengine's ``HistoryBuffer`` and parameter schedulers from pickling
  functions and bound methods (they would need ``builtins.getattr``, which no
  safe loader can allow; both are rebuilt when the object is constructed);
* writes every local file atomically (temporary file, then rename), so an
  interrupted checkpoint write never leaves a truncated file under the final name.
"""
import inspect
import os
import os.path as osp
import pickle
import pickletools
import tarfile
import tempfile
import zipfile

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import HistoryBuffer
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler

from mmext.errors import UserError

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'CheckpointError', 'load_local_checkpoint',
    'load_model_weights', 'load_state_dict_exactly'
]

#: The globals, beyond torch's defaults, that mmengine/mmext checkpoints hold:
#: message-hub buffers and the numpy arrays and scalars inside them.
CHECKPOINT_SAFE_GLOBALS = [
    HistoryBuffer,
    np.ndarray,
    np.dtype,
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
    # numpy >= 1.25 pickles each dtype through its own class.
    *(type(np.dtype(name)) for name in ('float64', 'float32', 'int64', 'int32')),
]

_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


class CheckpointError(UserError, RuntimeError):
    """A checkpoint file that cannot be loaded, with the file and the reason."""


def load_local_checkpoint(filename, map_location=None):
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint.
        map_location: As in :func:`torch.load`.

    Returns:
        dict: The checkpoint (an mmext/mmengine, mmpretrain-style or plain state
        dict file).

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: The file holds a pickled object outside the allowed
            globals (nothing in it is executed), is a plain pickle, a legacy
            .tar checkpoint, a folder, or is truncated or corrupt.
    """
    filename = osp.expanduser(filename)
    if osp.isdir(filename):
        raise CheckpointError(f'Checkpoint {filename} is a folder, not a file')
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint not found: {filename}')
    if not zipfile.is_zipfile(filename):
        # Recognised before torch.load, which would warn about the pickle
        # protocol of a plain pickle and then fail.
        _refuse_legacy_formats(filename)
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        disallowed = _disallowed_globals(filename)
        if disallowed:
            raise CheckpointError(_refusal_message(filename, disallowed)) from None
        raise _corrupt(filename, e) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise _corrupt(filename, e) from None


def _corrupt(filename, error):
    foreign_zip = _zip_without_checkpoint(filename)
    if foreign_zip:
        return CheckpointError(
            f'Checkpoint {filename} is a zip archive but not a torch '
            f'checkpoint (it holds {foreign_zip})')
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ''
    # torch's own advice for files it cannot load safely is to switch the
    # safety off; never pass that on.
    detail = f' ({type(error).__name__}: {detail})' if (
        detail and 'weights_only' not in detail) else ''
    return CheckpointError(
        f'Checkpoint {filename} is truncated or corrupt and cannot be read'
        f'{detail}')


def _zip_without_checkpoint(filename):
    """A preview of the members of a zip file that holds no torch
    checkpoint (no ``data.pkl``); None for other files."""
    if not zipfile.is_zipfile(filename):
        return None
    try:
        with zipfile.ZipFile(filename) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return None
    if any(osp.basename(name) == 'data.pkl' for name in names):
        return None
    return ', '.join(names[:3]) + (' ...' if len(names) > 3 else '')


#: torch.save's pre-1.6 (non-zip) format starts with this pickled number.
_LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c

_RESAVE_HINT = ('re-save a trusted file as a plain state_dict '
                '(torch.save(model.state_dict(), path)) to use it here.')


def _refuse_legacy_formats(filename):
    """Refuse a non-zip file that is not in torch.save's legacy pickle format,
    read without unpickling anything: the .tar format of PyTorch < 0.4,
    which has no safe loader, and a plain pickle."""
    if tarfile.is_tarfile(filename):
        raise CheckpointError(
            f'Checkpoint {filename} is in the .tar format of PyTorch < 0.4, '
            'which cannot be loaded without running the code pickled in it; '
            + _RESAVE_HINT)
    with open(filename, 'rb') as f:
        try:
            opcodes = [op.name for op, arg, _ in pickletools.genops(f)
                       if op.name not in ('PROTO', 'FRAME')
                       and not (op.name == 'LONG1'
                                and arg == _LEGACY_MAGIC_NUMBER)]
        except Exception:  # not a whole pickle: torch.load reports it
            return
    if opcodes != ['STOP']:
        raise CheckpointError(
            f'Checkpoint {filename} is a plain Python pickle, not a torch.save '
            'file; unpickling it could run arbitrary code, so it was not '
            'loaded: ' + _RESAVE_HINT)


def _disallowed_globals(filename):
    """The globals of a zip checkpoint beyond the allow-list, read without
    unpickling anything."""
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a readable zip checkpoint: nothing to list
        return []
    allowed = {f'{obj.__module__}.{obj.__qualname__}'
               for obj in CHECKPOINT_SAFE_GLOBALS}
    return [name for name in found if name not in allowed]


def _refusal_message(filename, disallowed) -> str:
    return (f'Refusing to load checkpoint {filename}: it contains pickled '
            f'objects outside the allowed set ({", ".join(disallowed)}). '
            'Unpickling them could run arbitrary code, so nothing in the file '
            'was executed. Load only files you trust; re-save a trusted file '
            'as a plain state_dict (torch.save(model.state_dict(), path)) to '
            'use it here.')


def _history_buffer_getstate(self) -> dict:
    """Pickle only custom statistics: the defaults are rebuilt on unpickling."""
    state = {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}
    custom = {
        name: method
        for name, method in self._statistics_methods.items()
        if name not in _DEFAULT_STATISTICS
    }
    if custom:
        state['statistics_methods'] = custom
    return state


def _scheduler_state_dict(self) -> dict:
    """Scheduler state without the functions chosen at construction (e.g.
    OneCycle's ``anneal_func``), which the constructor rebuilds from plain
    settings that are saved."""
    return {
        key: value
        for key, value in self.__dict__.items()
        if key != 'optimizer' and not inspect.isroutine(value)
    }


def _atomic_put(self, obj: bytes, filepath) -> None:
    """Write ``obj`` to ``filepath`` so that the file is whole or absent."""
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix='.' + osp.basename(filepath) + '.', suffix='.tmp')
    try:
        umask = os.umask(0)
        os.umask(umask)
        # mkstemp creates 0600; give the file the mode a plain open() would.
        os.chmod(tmp_path, 0o666 & ~umask)
        with os.fdopen(fd, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def apply_all() -> None:
    """Install the safe loader, the lean pickled states and atomic writes."""
    # Imported here: importing mmengine's runner applies mmext's runtime
    # patches (mmext.compat), which need this module's names defined.
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    # Upstream pickles its default statistics functions by qualified name.
    if 'statistics_methods' in HistoryBuffer().__getstate__():
        HistoryBuffer.__getstate__ = _history_buffer_getstate
    _ParamScheduler.state_dict = _scheduler_state_dict
    LocalBackend.put = _atomic_put


def load_model_weights(model, filename, map_location='cpu'):
    """Load a checkpoint's weights into ``model``, requiring an exact fit.

    Accepts mmext/mmengine checkpoints, mmpretrain-style ``{'meta',
    'state_dict'}`` files and plain state dicts; a ``module.`` prefix left by
    DataParallel is dropped.

    Args:
        model (nn.Module): The model (a wrapped model is unwrapped).
        filename (str): The checkpoint file.
        map_location: As in :func:`torch.load`.

    Raises:
        CheckpointError: Keys or shapes of the file do not fit the model; the
            message lists the missing and unexpected keys.
    """
    from mmengine.model import is_model_wrapper

    if is_model_wrapper(model):
        model = model.module
    checkpoint = load_local_checkpoint(filename, map_location)
    load_state_dict_exactly(model, checkpoint, filename)
    return checkpoint


def load_state_dict_exactly(model, checkpoint, filename, optional_keys=()):
    """Load the weights of a loaded checkpoint into ``model``, requiring an
    exact fit apart from ``optional_keys``.

    Args:
        model (nn.Module): The model, unwrapped.
        checkpoint (dict): A loaded checkpoint in any layout
            :func:`load_model_weights` accepts.
        filename (str): The checkpoint's file, for the message.
        optional_keys (Iterable[str]): Keys of the model the checkpoint may
            lack (they keep their current values).

    Raises:
        CheckpointError: Keys or shapes do not fit; the message lists the
            missing and unexpected keys.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'Checkpoint {filename} holds {_describe(checkpoint)}, not a '
            "state dict (a dict of tensors, or a dict with a 'state_dict')")
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state_dict.items()
    }
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise CheckpointError(
            f'Checkpoint {filename} does not fit {type(model).__name__}: '
            f'{e}') from None
    optional_keys = set(optional_keys)
    missing = [k for k in result.missing_keys if k not in optional_keys]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f'Checkpoint {filename} does not fit {type(model).__name__}: '
            f'missing keys {_preview(missing)}, unexpected keys '
            f'{_preview(result.unexpected_keys)}')


def _describe(obj) -> str:
    if isinstance(obj, torch.Tensor):
        return f'a tensor of shape {tuple(obj.shape)}'
    if isinstance(obj, (list, tuple)):
        return f'a {type(obj).__name__} of {len(obj)} items'
    return f'a {type(obj).__name__} ({obj!r:.40})'


def _preview(keys, limit=10):
    shown = ', '.join(keys[:limit])
    more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
    return f'[{shown}{more}]'


apply_all()
