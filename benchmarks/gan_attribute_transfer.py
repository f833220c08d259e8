"""ELEGANT and DNA-GAN at their paper resolution and batch: training
iteration time, peak memory, and generator inference throughput.

    python benchmarks/gan_attribute_transfer.py [--methods elegant dnagan] \
        [--repeats 1] [--threads 1] [--device cpu] [--out results.json]

Models, optimisers and attribute lists come from the paper configs
(ELEGANT: 256 x 256, batch 16 per attribute stream, 3 attributes; DNA-GAN:
64 x 64, batch 64 per stream, 3 attributes). Batches are random images in
the packed layout of ``CelebAAttributePairs``, so disk and JPEG decoding are
not measured.

* Training iteration: one ``train_step`` through the data preprocessor and
  both optimiser wrappers. ELEGANT's iteration is one D and one G step per
  attribute; DNA-GAN's ordinary iteration is one critic and one generator
  update over all attributes, and its boosted iteration (every 500th, 100
  critic updates) is estimated from an iteration with three critic
  updates.
  One untimed warm-up iteration comes first; the time is the mean of
  ``--repeats`` iterations.
* Peak memory: each method runs in a fresh subprocess; reported are its peak
  resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``) and that peak
  minus the resident set measured just before the first iteration (model,
  optimisers and batch built), i.e. what training adds on top. On a CUDA
  device: ``torch.cuda.max_memory_allocated``.
* Inference: ``model.transfer`` (encode source and reference, exchange one
  attribute, decode both) in eval mode without gradients, batch as in
  training; edited images per second count both outputs.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'elegant':
    osp.join(REPO, 'configs', 'elegant',
             'elegant_1xb16-200kiters_celeba-256x256.py'),
    'dnagan':
    osp.join(REPO, 'configs', 'dnagan',
             'dnagan_1xb64-200kiters_celeba-64x64.py'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--methods', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads (one avoids contention on shared machines)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='also write the results as JSON')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def rss_mib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def measure(method, repeats, threads, device):
    """Run in the worker process: build, warm up, time, report."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MessageHub
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    import mmext  # noqa: F401
    import mmext.generation  # noqa: F401  (registers the models)

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = Config.fromfile(CONFIGS[method])
    size, batch = cfg.img_size, cfg.train_dataloader.batch_size
    n = len(cfg.attributes)
    with DefaultScope.overwrite_default_scope('mmagic'):
        from mmagic.registry import MODELS
        model = MODELS.build(cfg.model).to(device)
        wrappers = build_optim_wrapper(model, cfg.optim_wrapper)

    def item():
        eye = torch.eye(n)
        return dict(
            inputs=dict(
                img_a=torch.randint(
                    0, 256, (n, 3, size, size), dtype=torch.uint8),
                img_b=torch.randint(
                    0, 256, (n, 3, size, size), dtype=torch.uint8),
                label_a=eye.clone(),
                label_b=1 - eye))

    data = pseudo_collate([item() for _ in range(batch)])
    hub = MessageHub.get_instance('benchmark')
    # Iteration 1: an ordinary iteration (0 would be DNA-GAN's boosted one).
    hub.update_info('iter', 1)

    def sync():
        if device.startswith('cuda'):
            torch.cuda.synchronize()

    model.train()
    model.train_step(data, wrappers)  # warm-up
    sync()
    baseline = rss_mib()
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_step(data, wrappers)
        sync()
        times.append(time.perf_counter() - start)
    result = dict(
        method=method,
        img_size=size,
        batch_per_stream=batch,
        num_attributes=n,
        threads=threads,
        device=device,
        train_iter_s=sum(times) / len(times),
        train_iter_repeats=len(times))

    if method == 'dnagan':
        # The boosted iteration (every 500th: 100 critic updates) is
        # estimated from an iteration with 3 critic updates: the extra two
        # give the cost of one critic update.
        boost, every = model.disc_boost_steps, model.disc_boost_interval
        model.disc_boost_steps, model.disc_boost_interval = 3, 1
        start = time.perf_counter()
        model.train_step(data, wrappers)
        sync()
        critic = max(time.perf_counter() - start - result['train_iter_s'],
                     0) / 2
        result.update(
            critic_update_s=critic,
            boosted_iter_s_estimate=result['train_iter_s'] +
            (boost - 1) * critic,
            boosted_every=every)

    if device.startswith('cuda'):
        result['peak_mem_mib'] = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result.update(peak_rss_mib=peak, peak_above_setup_mib=peak - baseline)

    model.eval()
    src, ref = (
        torch.rand(batch, 3, size, size, device=device) * 2 - 1
        for _ in range(2))
    model.transfer(src, ref, [0])  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(max(repeats, 2)):
        model.transfer(src, ref, [0])
    sync()
    per_call = (time.perf_counter() - start) / max(repeats, 2)
    result.update(
        inference_batch_s=per_call, edited_images_per_s=2 * batch / per_call)
    return result


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print(
            json.dumps(
                measure(args.worker, args.repeats, args.threads, args.device)))
        return
    results = []
    for method in args.methods:
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        proc = subprocess.run([
            sys.executable, __file__, '--worker', method, '--repeats',
            str(args.repeats), '--threads',
            str(args.threads), '--device', args.device
        ],
                              cwd=REPO,
                              env=env,
                              capture_output=True,
                              text=True)
        if proc.returncode:
            sys.exit(f'{method} failed:\n{proc.stderr[-3000:]}')
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1], indent=1), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
