"""Regenerate the mmflow 0.5.2 RAFT reference fixture (run INSIDE an mmflow venv).

What it writes, next to this file:

* ``frame1.png`` / ``frame2.png`` (64x96) and ``frame1_odd.png`` / ``frame2_odd.png``
  (58x85, not divisible by 8): the :func:`formula.formula_images` pairs.
* ``model_cfg.json``: ``model`` and ``data.test.pipeline`` of mmflow's own config
  ``configs/raft/raft_8x2_100k_flyingchairs_368x496.py`` (shipped in the wheel under
  ``mmflow/.mim/configs``), plus ``img_norm_cfg``.
* ``expected.npz`` (compressed), per case ``main`` / ``odd``:

  - ``{case}_imgs``: float32 [6, Hp, Wp], the normalised, padded input tensor that
    mmflow's test pipeline made from the PNG files (what ``forward_test`` received);
  - ``{case}_flow``: float32 [H, W, 2], mmflow's returned flow (``inference_model``
    output: convex-upsampled, then cropped back to the file's size);
  - ``{case}_flow_lowres``: float32 [iters, 2, Hp/8, Wp/8], the flow after each GRU
    iteration at 1/8 resolution (cumulated ``decoder.flow_pred`` outputs), for
    locating a divergence;
  - ``{case}_upflow_first``: float32 [2, Hp, Wp], the convex-upsampled flow of
    iteration 1 (before cropping);
  - ``{case}_pad``: int [[top, bottom], [left, right]] of mmflow's ``InputPad``;
  - ``{case}_ori_shape``: the (H, W, 3) of the files;
  - ``iters``, ``state_dict_names`` / ``state_dict_shapes`` (mmflow's order; shapes as
    ``str(tuple)``), ``versions``.

How mmflow 0.5.2 handles sizes not divisible by 8 (recorded, and covered by the
``odd`` case): its test pipeline ``InputPad(exponent=3)`` pads both images with
``np.pad(mode='edge')``, centred (``top = pad_h // 2``, ``bottom = pad_h - top``,
same for width) BEFORE ``Normalize``; the decoder's ``get_flow`` then crops the
full-resolution flow with that pad. Flow values are not rescaled.

Building the reference venv (CPU only, Python 3.11; ~5 minutes)::

    python3 -m venv /tmp/mmflow_venv
    /tmp/mmflow_venv/bin/pip install 'setuptools<70' wheel
    /tmp/mmflow_venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    # torch pulls setuptools>=77, which dropped pkg_resources that mmcv's setup.py
    # imports: put the old one back for the build (torch runs fine with it).
    /tmp/mmflow_venv/bin/pip install 'setuptools<70'
    MMCV_WITH_OPS=0 /tmp/mmflow_venv/bin/pip install --no-build-isolation mmcv==1.7.2
    /tmp/mmflow_venv/bin/pip install mmflow==0.5.2   # pulls matplotlib, six
    # mmcv.ops (imported by mmflow.ops / mmflow.apis) checks that mmcv._ext has the
    # compiled symbols; RAFT calls none. A stand-in that raises if ever called:
    cat > /tmp/mmflow_venv/lib/python3.11/site-packages/mmcv/_ext.py <<'EOF'
    def __getattr__(name):
        def _missing(*args, **kwargs):
            raise RuntimeError(f'mmcv._ext.{name}: compiled op not built')
        return _missing
    EOF

That venv resolved: torch 2.14.1+CPU, torchvision 0.29.1, mmcv 1.7.2 (no ops),
mmflow 0.5.2, numpy 2.4.6, opencv-python 5.0.0.93 (no stand-in for torchvision was
needed, numpy 2 worked). Then, from the repository root::

    /tmp/mmflow_venv/bin/python tests/data/raft_reference/make_reference.py \
        --check-keys /work/shared/specs/mmflow_raft_state_dict_keys.txt

The model is built and run exactly as ``mmflow.apis.init_model`` /
``inference_model`` do (CPU, eval mode, ``torch.no_grad``), with the formula weights
loaded through mmcv's ``load_checkpoint`` from a ``{'meta', 'state_dict'}`` file.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile

import numpy as np
import torch

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from formula import formula_images, formula_state_dict  # noqa: E402

CONFIG = 'raft/raft_8x2_100k_flyingchairs_368x496.py'
#: case name -> (H, W) of the PNG files.
CASES = {'main': (64, 96), 'odd': (58, 85)}
FILES = {'main': ('frame1.png', 'frame2.png'),
         'odd': ('frame1_odd.png', 'frame2_odd.png')}


def _to_jsonable(obj):
    if isinstance(obj, dict):
        return {k: _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    return obj


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=HERE, help='fixture directory')
    parser.add_argument('--check-keys', default=None,
                        help='spec file "name (shape)" per line to compare with')
    args = parser.parse_args()

    import cv2
    import mmcv
    import mmflow
    from mmcv.runner import load_checkpoint
    from mmflow.apis import inference_model, init_model

    torch.set_grad_enabled(False)
    cfg_path = osp.join(osp.dirname(mmflow.__file__), '.mim', 'configs', CONFIG)
    cfg = mmcv.Config.fromfile(cfg_path)
    model = init_model(cfg, checkpoint=None, device='cpu')  # eval(), train_cfg=None

    names_shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    state_dict = formula_state_dict(names_shapes)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'formula.pth')
        torch.save({'meta': {'note': 'formula weights'}, 'state_dict': state_dict},
                   ckpt)
        load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    for k, v in model.state_dict().items():  # loaded bit-exactly
        assert torch.equal(v, state_dict[k]), k

    if args.check_keys:
        with open(args.check_keys) as f:
            spec = [line.strip() for line in f if line.strip()]
        mine = [f'{k} {s}' for k, s in names_shapes]
        assert mine == spec, 'state_dict differs from ' + args.check_keys
        print(f'state_dict names/shapes/order == {args.check_keys} '
              f'({len(spec)} entries)')

    # Intermediates: the flow after each iteration at 1/8 scale, and the
    # upsampled flow of the first iteration.
    deltas, upflows, captured = [], [], {}
    model.decoder.flow_pred.register_forward_hook(
        lambda m, i, o: deltas.append(o.clone()))
    orig_upsample = model.decoder._upsample

    def _upsample(flow, mask=None):
        out = orig_upsample(flow, mask)
        upflows.append(out.clone())
        return out

    model.decoder._upsample = _upsample
    orig_forward_test = model.forward_test

    def forward_test(imgs, flow_init=None, img_metas=None):
        captured['imgs'] = imgs.clone()
        captured['img_metas'] = img_metas
        return orig_forward_test(imgs, flow_init=flow_init, img_metas=img_metas)

    model.forward_test = forward_test

    out = {}
    for case, (h, w) in CASES.items():
        img1, img2 = formula_images(h, w)
        files = [osp.join(args.out, f) for f in FILES[case]]
        for f, img in zip(files, (img1, img2)):
            assert cv2.imwrite(f, img)
            assert np.array_equal(cv2.imread(f), img)  # PNG is lossless
        deltas.clear()
        upflows.clear()
        flow = inference_model(model, files[0], files[1])
        meta = captured['img_metas'][0]
        iters = len(deltas)
        assert iters == model.decoder.iters == 12
        lowres = torch.cumsum(torch.cat(deltas), dim=0)  # flow_init is zero
        out[f'{case}_imgs'] = captured['imgs'][0].numpy().astype(np.float32)
        out[f'{case}_flow'] = np.ascontiguousarray(flow, dtype=np.float32)
        out[f'{case}_flow_lowres'] = lowres.numpy().astype(np.float32)
        out[f'{case}_upflow_first'] = upflows[0][0].numpy().astype(np.float32)
        out[f'{case}_pad'] = np.array(meta.get('pad', [[0, 0], [0, 0]]))[:2]
        out[f'{case}_ori_shape'] = np.array(meta['ori_shape'])
        assert flow.shape == (h, w, 2), flow.shape
        print(f'{case}: files {h}x{w}, input {tuple(captured["imgs"].shape)}, '
              f'pad {out[f"{case}_pad"].tolist()}, |flow| max '
              f'{np.abs(flow).max():.3f} mean {np.abs(flow).mean():.3f}')

    out['iters'] = np.array(iters)
    out['state_dict_names'] = np.array([k for k, _ in names_shapes])
    out['state_dict_shapes'] = np.array([str(s) for _, s in names_shapes])
    out['versions'] = np.array([
        f'mmflow {mmflow.__version__}', f'mmcv {mmcv.__version__}',
        f'torch {torch.__version__}', f'numpy {np.__version__}',
        f'opencv {cv2.__version__}', f'python {sys.version.split()[0]}'])
    np.savez_compressed(osp.join(args.out, 'expected.npz'), **out)

    cfg_out = dict(
        config=f'mmflow {mmflow.__version__} configs/{CONFIG}',
        model=_to_jsonable(cfg.model.to_dict()),
        test_pipeline=_to_jsonable(cfg.data.test.pipeline),
        img_norm_cfg=_to_jsonable(cfg.img_norm_cfg.to_dict()))
    # init_model sets train_cfg to None; keep the config file's value instead.
    cfg_out['model']['train_cfg'] = {}
    with open(osp.join(args.out, 'model_cfg.json'), 'w') as f:
        json.dump(cfg_out, f, indent=1)
        f.write('\n')
    sizes = {f: os.path.getsize(osp.join(args.out, f))
             for f in sorted(os.listdir(args.out))
             if f.endswith(('.png', '.npz', '.json'))}
    print('written:', sizes, 'total', sum(sizes.values()))


if __name__ == '__main__':
    main()
