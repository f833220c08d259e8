"""The loops of FlowNAS: subnet validation during supernet training, and the
resource-constrained evolutionary search over a trained supernet.

mmrazor's ``EvolutionSearchLoop`` supplies the evolution (random population,
top-k selection, mutation and crossover of the mutator's choices);
:class:`FlowNASSearchLoop` changes what it cannot configure:

* fitness is an error, lower is better: the validation EPE with a fixed number
  of refinement iterations plus the weighted feature-alignment distance to
  the teacher, as the released FlowNAS search adds it (mmrazor ranks
  higher-is-better scores rounded to 0.01);
* a population slot only takes an architecture never evaluated before, as in
  the released search (mmrazor's breeding may return a parent unchanged or a
  candidate twice, and would spend the slot on a known result);
* the parameters of a candidate are counted from its architecture first;
  only candidates within the parameter bound are measured (mmrazor measures
  every candidate in full, on a deep copy of the whole algorithm, teacher
  included). Only the encoders are searched, so the FLOPs of the standalone
  RAFT are those of the candidate's encoders, computed from their
  architecture for the estimator's input as mmrazor's counters would count
  them, plus those of the rest, counted once with a full RAFT; a latency
  bound builds and runs each candidate's standalone RAFT;
* every evaluated candidate is appended to ``candidates.jsonl`` and the
  population is saved in ``search_state.json`` (plain JSON) after sampling and
  after each generation, so an interrupted search resumes without evaluating
  any finished candidate again (mmrazor resumes only from whole generations,
  through pickles);
* the result is ``best_subnet.json`` (architecture, mmrazor fix-subnet and
  metrics), and with ``export_base_config`` the standalone RAFT
  ``best_subnet.py`` / ``best_subnet.pth``.

:class:`FlowNASSubnetValLoop` is mmrazor's ``SubnetValLoop`` (largest,
smallest and random subnets, BatchNorm re-estimated for each). Both loops
re-estimate BatchNorm statistics their own way: mmrazor's mixin slices a
batch dict as if it were a list, which fails once fewer samples than dict
keys remain (always with batches of 1 or 2), and runs the whole flow model
where the encoders, which hold all the BatchNorms, suffice.

:class:`FlowResourceEstimator` extends mmrazor's ``ResourceEstimator`` with a
latency measured on the CPU as well (mmrazor's counter refuses CPUs).
"""
import contextlib
import functools
import json
import os
import os.path as osp
import time
from typing import (Any, Callable, Dict, Iterator, List, Optional, Tuple,
                    Union)

import torch
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from mmrazor.engine import EvolutionSearchLoop, SubnetValLoop
from mmrazor.models.task_modules import ResourceEstimator
from mmrazor.models.task_modules.estimators.counters.flops_params_counter \
    import get_model_flops_params, params_units_convert
from mmrazor.registry import LOOPS, TASK_UTILS
from mmrazor.structures import (Candidates, convert_fix_subnet,
                                export_fix_subnet)
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from mmext.flow.models.base import InputPadder
from mmext.registry import MODELS as MMEXT_MODELS
from .algorithm import FlowNAS
from .export import export_subnet, write_static_raft
from .searchable_encoder import FlowNASEncoder

__all__ = ['FlowResourceEstimator', 'FlowNASSearchLoop']


def _zeros_input(input_shape: Tuple[int, ...],
                 device: torch.device) -> dict:
    """A defined input for counting: mmrazor's default is uninitialised
    memory, which a flow model may turn into NaN flows."""
    return dict(inputs=torch.zeros(input_shape, device=device))


@TASK_UTILS.register_module()
class FlowResourceEstimator(ResourceEstimator):
    """FLOPs, parameters and measured latency of a flow model.

    FLOPs come from mmrazor's counters (module hooks, on RAFT's inference:
    every convolution of every refinement iteration counts, the mask head
    once, as it runs once; the correlation matmul and lookup are not modules
    and do not). Parameters are the model's own count. Latency
    is the median wall time of a no-grad forward, on whatever device the
    model is.

    Args:
        input_shape (tuple): Shape of the model input, ``(1, 6, H, W)`` for
            an image pair. Defaults to (1, 6, 368, 496).
        units (dict): Units of flops, params and latency. Defaults to
            dict(flops='G', params='M', latency='ms').
        as_strings (bool): Return strings with units. Defaults to False.
        flops_params_cfg (dict, optional): mmrazor's counter settings.
        latency_cfg (dict, optional): ``num_warmup`` and ``num_iters``
            (defaults 2 and 10); None skips the measurement (latency 0).
    """

    def __init__(self,
                 input_shape: Tuple[int, ...] = (1, 6, 368, 496),
                 units: Dict = dict(flops='G', params='M', latency='ms'),
                 as_strings: bool = False,
                 flops_params_cfg: Optional[dict] = None,
                 latency_cfg: Optional[dict] = None) -> None:
        super().__init__(
            tuple(input_shape), units, as_strings, flops_params_cfg)
        self.flow_latency_cfg = latency_cfg

    def estimate(self, model: nn.Module) -> Dict[str, Union[float, str]]:
        """Resources of ``model``; a :class:`FlowNAS` algorithm is measured
        as the standalone RAFT of its current subnet.

        Args:
            model (nn.Module): A flow model, or a FlowNAS algorithm.

        Returns:
            dict: ``flops``, ``params`` and ``latency``.
        """
        device = next(model.parameters()).device
        if isinstance(model, FlowNAS):
            model = MMEXT_MODELS.build(model.subnet_cfg()).to(device)
        results = super().estimate(
            model,
            dict(
                self.flops_params_cfg,
                input_constructor=functools.partial(
                    _zeros_input, device=device)))
        # mmrazor's counter adds a module's parameters at every call, so
        # RAFT's shared encoder and recurrent update would count repeatedly.
        params = params_units_convert(
            sum(p.numel() for p in model.parameters()), self.units['params'],
            precision=4)
        results['params'] = f'{params} {self.units["params"]}' \
            if self.as_strings else params
        if self.flow_latency_cfg is not None:
            latency = self._latency(model, **self.flow_latency_cfg)
            results['latency'] = f'{latency} ms' if self.as_strings \
                else latency
        return results

    def count_flops(self, model: nn.Module, input_shape=None) -> float:
        """FLOPs of ``model`` as :meth:`estimate` counts them, unrounded."""
        cfg = dict(
            self.flops_params_cfg,
            input_shape=tuple(input_shape or self.input_shape),
            units=None,
            as_strings=False,
            input_constructor=functools.partial(
                _zeros_input, device=next(model.parameters()).device))
        model.eval()
        return get_model_flops_params(model, **cfg)[0]

    def count_encoder_flops(self, encoder_cfg: dict, context_cfg: dict,
                            size_divisor: int) -> float:
        """FLOPs of a RAFT's :class:`FlowNASEncoder` feature and context
        encoders, unrounded, per pair of the estimator's (padded) input (the
        counters' unit), run as RAFT runs them: the feature encoder on each
        image, the context encoder on the first. Computed from their configs
        (:meth:`FlowNASEncoder.num_flops`): the counters' count of the built
        encoders, without building or running them, so without the
        counters' ``disabled_counters`` and ``spec_modules``."""
        unsupported = {'disabled_counters', 'spec_modules'
                       } & set(self.flops_params_cfg)
        if unsupported:
            raise ValueError(
                f'flops_params_cfg: {sorted(unsupported)} cannot apply to '
                'encoder FLOPs computed from their configs')
        padded = [
            size + -size % size_divisor for size in self.input_shape[-2:]
        ]

        def flops(cfg: dict) -> float:
            return FlowNASEncoder.num_flops(padded, self._flops_per_element,
                                            **cfg)

        return 2 * flops(encoder_cfg) + flops(context_cfg)

    @staticmethod
    def _flops_per_element(layer: nn.Module) -> float:
        """What the counters charge ``layer`` per element (0 for a type
        they do not count, such as SyncBatchNorm)."""
        # Two by two: InstanceNorm needs more than one position.
        flops = get_model_flops_params(
            layer.eval(), (1, 1, 2, 2), units=None, as_strings=False)[0]
        return flops / 4

    @torch.no_grad()
    def _latency(self,
                 model: nn.Module,
                 num_warmup: int = 2,
                 num_iters: int = 10) -> float:
        model.eval()
        device = next(model.parameters()).device
        inputs = torch.zeros(self.input_shape, device=device)
        times = []
        for i in range(num_warmup + num_iters):
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(inputs)
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            if i >= num_warmup:
                times.append(time.perf_counter() - start)
        return round(1000 * sorted(times)[len(times) // 2], 3)


class _SubnetBNCalibration:
    """Re-estimates the BatchNorm statistics of the current subnet."""

    runner: Runner
    model: FlowNAS

    @torch.no_grad()
    def calibrate_bn_statistics(self, dataloader: DataLoader,
                                calibrate_sample_num: int) -> None:
        """Replace the running statistics of the supernet encoders' active
        channels by their average over ``calibrate_sample_num`` samples of
        ``dataloader``; <= 0 keeps them.

        Args:
            dataloader (DataLoader): Usually the training data.
            calibrate_sample_num (int): Samples to average over.
        """
        if calibrate_sample_num <= 0:
            return
        architecture = self.model.architecture
        encoder_norms = {
            encoder:
            [m for m in encoder.modules() if isinstance(m, _BatchNorm)]
            for encoder in (architecture.encoder, architecture.context)
        }
        norms = [bn for group in encoder_norms.values() for bn in group]
        saved = [(bn.momentum, bn.num_batches_tracked.clone(), bn.training)
                 for bn in norms]
        for bn in norms:
            # Momentum None averages all batches since the counter's reset;
            # the channels this subnet leaves out keep their statistics.
            bn.momentum = None
            bn.num_batches_tracked.zero_()
            bn.train()
        seen = 0
        for data_batch in dataloader:
            inputs = self.model.data_preprocessor(data_batch)['inputs']
            padder = InputPadder(inputs.shape[-2:], architecture.size_divisor)
            img1, img2 = torch.split(
                padder.pad(inputs), architecture.encoder.in_channels, dim=1)
            # As RAFT runs them (the feature encoder on each image, the
            # context encoder on the first), but only those with BatchNorms:
            # RAFT's feature encoder has InstanceNorms, two thirds of the
            # encoders' work.
            for encoder, images in ((architecture.encoder, (img1, img2)),
                                    (architecture.context, (img1, ))):
                if encoder_norms[encoder]:
                    for image in images:
                        encoder(image)
            seen += len(inputs)
            if seen >= calibrate_sample_num:
                break
        for bn, (momentum, count, training) in zip(norms, saved):
            bn.momentum = momentum
            bn.num_batches_tracked.copy_(count)
            bn.train(training)


@LOOPS.register_module()
class FlowNASSubnetValLoop(_SubnetBNCalibration, SubnetValLoop):
    """Validates the supernet's largest, smallest and random subnets (the
    algorithm's ``sample_kinds``), each after re-estimating its BatchNorm
    statistics; metrics are prefixed ``max_subnet.``, ``min_subnet.``, ...

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Validation data.
        evaluator (Evaluator | dict | list): Validation metrics.
        fp16 (bool): Validate in fp16. Defaults to False.
        calibrate_sample_num (int): Training samples for the statistics; <= 0
            keeps the running ones. Defaults to 64.
        estimator_cfg (dict): Resource estimator, measuring each subnet as a
            standalone RAFT. Defaults to
            dict(type='mmrazor.FlowResourceEstimator').
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False,
                 calibrate_sample_num: int = 64,
                 estimator_cfg: Dict = dict(
                     type='mmrazor.FlowResourceEstimator')) -> None:
        super().__init__(
            runner,
            dataloader,
            evaluator,
            fp16=fp16,
            calibrate_sample_num=calibrate_sample_num,
            estimator_cfg=estimator_cfg)


def _num_bytes(obj: Any) -> int:
    """Bytes of the tensors in ``obj`` (nested lists, tuples, dicts)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_num_bytes(item) for item in obj)
    return 0


def _arch_key(arch: Dict[str, List[int]]) -> str:
    return json.dumps(arch, sort_keys=True)


def _write_json(path: str, obj: Any) -> None:
    """Write atomically: an interrupted write leaves the previous file."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


@LOOPS.register_module()
class FlowNASSearchLoop(_SubnetBNCalibration, EvolutionSearchLoop):
    """Constrained evolutionary search of FlowNAS subnets (see the module
    notes); the runner's model is a trained :class:`FlowNAS`.

    The defaults are the paper's: population 50, 20 generations, 25
    mutations and 25 crossovers per generation from the top 10, 12
    refinement iterations; fitness = error + alignment distance. Mutation
    resamples each choice with probability 0.1 and crossover takes each
    choice from either parent with probability 0.5, as FlowNAS's released
    search does. Bred or sampled architectures that were evaluated before,
    or are already in the population, are discarded and drawn again (at most
    ten draws per slot for breeding, as mmrazor and the released search).
    There is no default bound: ``constraints_range`` must name it (the
    paper's 5.0 M excludes the published architectures under an exact
    count, see configs/flownas/README.md).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Validation data of the fitness.
        evaluator (Evaluator | dict | list): Its metrics; ``score_key`` names
            the error to minimise.
        constraints_range (dict): ``flops`` (G), ``params`` (M) and
            ``latency`` (ms) bounds, each ``(low, high)`` or ``high``.
            ``params`` counts every parameter of the standalone RAFT once
            (:meth:`FlowNAS.subnet_num_params`).
        max_epochs (int): Generations. Defaults to 20.
        num_candidates (int): Population size. Defaults to 50.
        top_k (int): Parents kept per generation. Defaults to 10.
        num_mutation (int): Mutations per generation. Defaults to 25.
        num_crossover (int): Crossovers per generation. Defaults to 25.
        mutate_prob (float): Per-choice mutation probability. Defaults to 0.1.
        crossover_prob (float): Per-choice probability of taking the second
            parent's choice. Defaults to 0.5.
        estimator_cfg (dict, optional): Resource estimator config. Defaults
            to dict(type='mmrazor.FlowResourceEstimator').
        score_key (str): The metric minimised. Defaults to 'EPE'.
        refine_iters (int): Refinement iterations while evaluating.
            Defaults to 12.
        alignment_weight (float): Weight of the feature-alignment distance
            (the distiller's summed losses on the validation pairs) added to
            the error; 0 skips it. Defaults to 1, the released search's
            weight.
        calibrate_sample_num (int): Training samples that re-estimate the
            BatchNorm statistics of each candidate before evaluation; -1
            skips it. Defaults to -1.
        teacher_cache_mb (float): The teacher is fixed, so its encoder
            outputs on a validation batch are computed once and kept for the
            next candidates, up to this many MiB (with the batch's inputs,
            which a hit must equal); later batches are recomputed. 0 keeps
            none. Defaults to 1024.
        resume_from (str, optional): ``search_state.json`` of an interrupted
            search; ``candidates.jsonl`` beside it supplies the finished
            candidates. Defaults to None.
        export_base_config (str, optional): Config inherited by the exported
            ``best_subnet.py``; None writes no standalone model.
        max_sample_tries (int): Random samples tried to fill the population
            before giving up on the constraints. Defaults to 10000.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 constraints_range: Dict[str, Any],
                 max_epochs: int = 20,
                 num_candidates: int = 50,
                 top_k: int = 10,
                 num_mutation: int = 25,
                 num_crossover: int = 25,
                 mutate_prob: float = 0.1,
                 crossover_prob: float = 0.5,
                 estimator_cfg: Optional[Dict] = None,
                 score_key: str = 'EPE',
                 refine_iters: int = 12,
                 alignment_weight: float = 1.,
                 calibrate_sample_num: int = -1,
                 teacher_cache_mb: float = 1024,
                 resume_from: Optional[str] = None,
                 export_base_config: Optional[str] = None,
                 max_sample_tries: int = 10000) -> None:
        super().__init__(
            runner,
            dataloader,
            evaluator,
            max_epochs=max_epochs,
            resume_from=resume_from,
            num_candidates=num_candidates,
            top_k=top_k,
            num_mutation=num_mutation,
            num_crossover=num_crossover,
            mutate_prob=mutate_prob,
            crossover_prob=crossover_prob,
            calibrate_sample_num=calibrate_sample_num,
            constraints_range=constraints_range,
            estimator_cfg=estimator_cfg
            or dict(type='mmrazor.FlowResourceEstimator'),
            score_key=score_key)
        if not isinstance(self.model, FlowNAS):
            raise TypeError('FlowNASSearchLoop searches a FlowNAS model')
        self.refine_iters = refine_iters
        self.alignment_weight = alignment_weight
        self.teacher_cache_bytes = teacher_cache_mb * 2**20
        #: Validation batch index -> (inputs, teacher recorders' buffers).
        self._teacher_cache: Dict[int, Tuple[torch.Tensor, List[list]]] = {}
        self._teacher_cache_used = 0
        self.export_base_config = export_base_config
        self.max_sample_tries = max_sample_tries
        self.records_path = osp.join(runner.work_dir, 'candidates.jsonl')
        self.state_path = osp.join(runner.work_dir, 'search_state.json')
        #: Finished candidates by architecture: resources, metrics, fitness.
        self.records: Dict[str, dict] = {}
        self._resources: Dict[str, dict] = {}
        #: FLOPs of the standalone RAFT outside its encoders (any subnet).
        self._flops_outside_encoders: Optional[float] = None
        #: Candidates evaluated by this run (not read from a resumed one).
        self.num_evaluated = 0

    # -- the loop ------------------------------------------------------------

    def run(self) -> None:
        """Search, then write the best subnet."""
        self.runner.call_hook('before_train')
        architecture = self.model.architecture
        architecture.test_cfg = dict(
            architecture.test_cfg or {}, iters=self.refine_iters)
        if self.resume_from:
            self._resume()
        else:
            open(self.records_path, 'w').close()
        while self._epoch < self._max_epochs:
            self.run_epoch()
        self._save_best_fix_subnet()
        self.runner.call_hook('after_train')

    def run_epoch(self) -> None:
        """One generation: fill and evaluate the population, keep the top k,
        breed the next population by mutation and crossover."""
        self.sample_candidates()
        # From here the population is fixed: a resumed run re-uses it.
        self._save_searcher_ckpt()
        self.update_candidates_scores()

        pool, seen = [], set()
        for candidate in sorted(
                self.candidates.data + self.top_k_candidates.data,
                key=lambda item: list(item.values())[0]['score']):
            key = list(candidate)[0]
            if key not in seen:
                seen.add(key)
                pool.append(candidate)
        self.top_k_candidates = Candidates(pool[:self.top_k])
        best = self.records[self._key(self.top_k_candidates.subnets[0])]
        self.runner.logger.info(
            f'Generation [{self._epoch + 1}/{self._max_epochs}]: best '
            f'fitness {best["fitness"]:.4f} {best["arch"]}')

        next_population = self.gen_mutation_candidates()
        next_population.extend(
            self.gen_crossover_candidates(taken=next_population))
        self.candidates = next_population
        self._epoch += 1
        self._save_searcher_ckpt()

    def sample_candidates(self) -> None:
        """Fill the population with new random subnets within the
        constraints."""
        missing = self.num_candidates - len(self.candidates)
        if missing <= 0:
            return
        self.candidates.extend(
            self._new_candidates(self.model.mutator.sample_choices, missing,
                                 self.max_sample_tries, self.candidates))
        if len(self.candidates) < self.num_candidates:
            raise RuntimeError(
                f'only {len(self.candidates)} of {self.num_candidates} '
                f'subnets met {self.constraints_range} in '
                f'{self.max_sample_tries} random samples')

    def gen_mutation_candidates(self,
                                taken: Optional[Candidates] = None
                                ) -> Candidates:
        """``num_mutation`` new mutants of the top k within the
        constraints (fewer if ten draws per slot do not find them)."""
        return self._new_candidates(self._mutation, self.num_mutation,
                                    10 * self.num_mutation, taken)

    def gen_crossover_candidates(self,
                                 taken: Optional[Candidates] = None
                                 ) -> Candidates:
        """``num_crossover`` new crossovers of the top k within the
        constraints (fewer if ten draws per slot do not find them)."""
        return self._new_candidates(self._crossover, self.num_crossover,
                                    10 * self.num_crossover, taken)

    def update_candidates_scores(self) -> None:
        """Score every candidate: from the records if it was evaluated
        before, else by evaluating it (and recording it at once)."""
        for i, choices in enumerate(self.candidates.subnets):
            key = self._key(choices)
            if key not in self.records:
                self._evaluate(choices)
            record = self.records[key]
            self.candidates.set_resource(i, record['fitness'], 'score')
            self.runner.logger.info(
                f'Generation [{self._epoch + 1}/{self._max_epochs}] '
                f'candidate [{i + 1}/{len(self.candidates)}]: '
                f'{self.score_key} {record[self.score_key]:.4f}, fitness '
                f'{record["fitness"]:.4f}, params {record["params"]} M, '
                f'flops {record["flops"]} G, latency {record["latency"]} ms')

    # -- candidates ----------------------------------------------------------

    def _key(self, choices: Dict[str, int]) -> str:
        return _arch_key(self.model.choices_to_arch(choices))

    def _new_candidates(self, draw: Callable[[], Dict[str, int]], num: int,
                        max_draws: int,
                        taken: Optional[Candidates]) -> Candidates:
        """Up to ``num`` subnets from ``draw()`` that meet the constraints
        and were neither evaluated before nor are in ``taken``, each once."""
        seen = {self._key(choices) for choices in taken.subnets} \
            if taken else set()
        found = Candidates()
        for _ in range(max_draws):
            if len(found) >= num:
                break
            choices = draw()
            key = self._key(choices)
            if key in self.records or key in seen:
                continue
            seen.add(key)
            is_pass, resources = self._check_constraints(choices)
            if is_pass:
                found.append(choices)
                found.update_resources([resources], len(found) - 1)
        return found

    def _evaluate(self, choices: Dict[str, int]) -> None:
        """Measure the fitness of ``choices`` and append it to the records."""
        key = self._key(choices)
        self.model.mutator.set_choices(choices)
        metrics = self._val_candidate()
        fitness = metrics[self.score_key] + self.alignment_weight * \
            metrics.get('alignment_distance', 0.)
        record = dict(
            arch=self.model.choices_to_arch(choices),
            generation=self._epoch,
            **self._resources[key],
            **metrics,
            fitness=fitness)
        with open(self.records_path, 'a') as f:
            f.write(json.dumps(record) + '\n')
            f.flush()
            os.fsync(f.fileno())
        self.records[key] = record
        self.num_evaluated += 1

    @torch.no_grad()
    def _val_candidate(self, use_predictor: bool = False) -> Dict:
        """The metrics of the current subnet on the validation data, and
        its mean feature-alignment distance when it enters the fitness."""
        if self.calibrate_sample_num > 0:
            self.calibrate_bn_statistics(self.runner.train_dataloader,
                                         self.calibrate_sample_num)
        self.runner.model.eval()
        distiller = self.model.distiller
        distance, count = 0., 0
        with self._static_encoders():
            for index, data_batch in enumerate(self.dataloader):
                if not self.alignment_weight:
                    outputs = self.runner.model.val_step(data_batch)
                else:
                    # The subnet's encoder features are recorded as it
                    # estimates the flow (as FlowNAS.alignment_distance would
                    # record them, without running the encoders again).
                    with distiller.student_recorders:
                        outputs = self.runner.model.val_step(data_batch)
                    inputs = self.model.data_preprocessor(data_batch)['inputs']
                    self._record_teacher(index, inputs)
                    losses = distiller.compute_distill_losses()
                    distance += float(sum(losses.values())) * len(inputs)
                    count += len(inputs)
                self.evaluator.process(
                    data_samples=outputs, data_batch=data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if count:
            metrics['alignment_distance'] = distance / count
        return metrics

    @contextlib.contextmanager
    def _static_encoders(self) -> Iterator[None]:
        """Let the supernet's encoders compute with static copies of the
        current subnet's (:meth:`SearchableFlowNASEncoder.static_copy`):
        mmrazor's dynamic ops slice their weights at every call, a quarter
        of the encoders' time at toy sizes. The copies run inside the
        encoders' own module calls, so hooks on the encoders (the recorders
        of the alignment distance) still see their outputs; hooks on their
        submodules would not fire."""
        encoders = [self.model.architecture.encoder,
                    self.model.architecture.context]
        own_forwards = [vars(encoder).get('forward') for encoder in encoders]
        try:
            for encoder in encoders:
                encoder.forward = encoder.static_copy().forward
            yield
        finally:
            for encoder, forward in zip(encoders, own_forwards):
                if forward is None:
                    vars(encoder).pop('forward', None)
                else:
                    encoder.forward = forward

    def _record_teacher(self, index: int, inputs: torch.Tensor) -> None:
        """Fill the teacher's recorders with its encoder outputs on
        validation batch ``index``: from the cache if it holds these
        inputs, else computed (and cached while there is room)."""
        recorders = list(
            self.model.distiller.teacher_recorders.recorders.values())
        cached = self._teacher_cache.get(index)
        if cached is not None and torch.equal(cached[0], inputs):
            for recorder, buffer in zip(recorders, cached[1]):
                recorder.reset_data_buffer()
                recorder.data_buffer.extend(buffer)
            return
        self.model._record_teacher(inputs)
        buffers = [list(recorder.data_buffer) for recorder in recorders]
        size = _num_bytes([inputs, buffers])
        if cached is None and \
                self._teacher_cache_used + size <= self.teacher_cache_bytes:
            self._teacher_cache[index] = (inputs, buffers)
            self._teacher_cache_used += size

    def _check_constraints(self,
                           random_subnet: Dict[str, int]) -> Tuple[bool, Dict]:
        """Whether the standalone RAFT of a subnet meets the constraints,
        and its resources, measured once per architecture: the parameters
        first, counted from the architecture; FLOPs and latency (the
        standalone RAFT built and run) only within the parameter bound."""
        key = self._key(random_subnet)
        if key not in self._resources:
            arch = self.model.choices_to_arch(random_subnet)
            resources = dict(
                params=params_units_convert(
                    self.model.subnet_num_params(arch),
                    self.estimator.units['params'],
                    precision=4))
            if self._within(resources):
                if self.estimator.flow_latency_cfg is None:
                    resources.update(
                        flops=self._subnet_flops(arch), latency=0.)
                else:
                    resources = self.estimator.estimate(self._standalone(arch))
            self._resources[key] = resources
        resources = self._resources[key]
        return self._within(resources), resources

    def _standalone(self, arch: Dict[str, List[int]]) -> nn.Module:
        """The standalone RAFT of ``arch``, as the subnet is deployed."""
        model = MMEXT_MODELS.build(self.model.subnet_cfg(arch))
        return model.to(next(self.model.parameters()).device)

    def _subnet_flops(self, arch: Dict[str, List[int]]) -> float:
        """FLOPs of the standalone RAFT of ``arch`` (the estimator's units),
        equal to :meth:`FlowResourceEstimator.estimate`'s: its encoders'
        count plus that of the rest, which is the same for every subnet (the
        encoders' outputs have fixed shapes) and counted once."""
        cfg = self.model.subnet_cfg(arch)
        encoders = self.estimator.count_encoder_flops(
            cfg['encoder'], cfg['cxt_encoder'],
            self.model.architecture.size_divisor)
        if self._flops_outside_encoders is None:
            self._flops_outside_encoders = self.estimator.count_flops(
                self._standalone(arch)) - encoders
        return params_units_convert(self._flops_outside_encoders + encoders,
                                    self.estimator.units['flops'])

    def _within(self, resources: Dict[str, float]) -> bool:
        """Whether the measured ``resources`` meet their constraints."""
        for name, bounds in self.constraints_range.items():
            if name not in resources:
                continue
            low, high = bounds if isinstance(bounds, (list, tuple)) \
                else (0, bounds)
            if not low <= resources[name] <= high:
                return False
        return True

    # -- state, resume, result -----------------------------------------------

    def _save_searcher_ckpt(self) -> None:
        """Save the generation, its population and the top k (JSON)."""

        def archs(candidates):
            return [
                self.model.choices_to_arch(c) for c in candidates.subnets
            ] if len(candidates) else []

        _write_json(
            self.state_path,
            dict(
                generation=self._epoch,
                population=archs(self.candidates),
                top_k=archs(self.top_k_candidates)))

    def _resume(self) -> None:
        """Restore the records, the generation, its population and the top k
        of an interrupted search."""
        with open(self.resume_from) as f:
            state = json.load(f)
        records_path = osp.join(
            osp.dirname(self.resume_from), 'candidates.jsonl')
        records = []
        if osp.isfile(records_path):
            with open(records_path) as f:
                records = [json.loads(line) for line in f if line.strip()]
        if osp.abspath(records_path) != osp.abspath(self.records_path):
            with open(self.records_path, 'w') as f:
                f.writelines(json.dumps(r) + '\n' for r in records)
        resource_keys = ('flops', 'params', 'latency')
        for record in records:
            key = _arch_key(record['arch'])
            self.records[key] = record
            self._resources[key] = {k: record[k] for k in resource_keys}

        def candidates(archs, with_score):
            result = Candidates()
            for arch in archs:
                choices = self.model.arch_to_choices(arch)
                _, resources = self._check_constraints(choices)
                result.append(choices)
                result.update_resources([resources], len(result) - 1)
                if with_score:
                    result.set_resource(
                        len(result) - 1,
                        self.records[_arch_key(arch)]['fitness'], 'score')
            return result

        self._epoch = state['generation']
        self.candidates = candidates(state['population'], False)
        self.top_k_candidates = candidates(state['top_k'], True)
        self.runner.logger.info(
            f'Resumed the search at generation {self._epoch + 1} with '
            f'{len(records)} evaluated candidates')

    def _save_best_fix_subnet(self) -> None:
        """Write ``best_subnet.json`` and, with ``export_base_config``, the
        standalone ``best_subnet.py`` / ``best_subnet.pth``."""
        best = self.records[self._key(self.top_k_candidates.subnets[0])]
        self.model.set_arch(best['arch'])
        fix_subnet, _ = export_fix_subnet(self.model.architecture)
        result = dict(best, fix_subnet=convert_fix_subnet(fix_subnet))
        _write_json(osp.join(self.runner.work_dir, 'best_subnet.json'), result)
        self.runner.logger.info(f'Best subnet: {best}')
        if self.export_base_config is None:
            return
        if self.calibrate_sample_num > 0:
            # The exported statistics are those the subnet was scored with.
            self.calibrate_bn_statistics(self.runner.train_dataloader,
                                         self.calibrate_sample_num)
        cfg, state_dict = export_subnet(self.model)
        paths = write_static_raft(
            cfg, state_dict, osp.join(self.runner.work_dir, 'best_subnet'),
            self.export_base_config, meta=result)
        self.runner.logger.info(f'Exported the best subnet to {paths}')
