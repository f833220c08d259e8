"""FlowNAS supernet training: sandwich sampling with Feature Alignment
Distillation (FlowNAS, Lin et al. 2022).

Each training step, on one batch:

1. the teacher (a trained flow estimator, e.g. an mmflow model-zoo RAFT)
   encodes the images once; mmrazor recorders keep its feature and context
   encoder outputs;
2. the largest, the smallest and ``num_random_samples`` random subnets of the
   supernet (mmrazor's ``NasMutator`` picks them; the sandwich rule of BigNAS)
   each compute ``flow_loss_weight * sequence loss`` plus the weighted
   alignment losses between their encoder outputs and the teacher's (the
   ``ConfigurableDistiller``'s losses), and back-propagate;
3. one optimizer step applies the summed gradients.

The supernet is an mmext ``RAFT`` whose ``encoder`` and ``cxt_encoder`` are
:class:`SearchableFlowNASEncoder`; the context encoder follows the feature
encoder's architecture. mmrazor's ``BigNAS`` is not subclassed: its step sets
dropout on ``architecture.backbone.layers`` (RAFT has no backbone) and
distils from its own largest subnet instead of an external teacher.

In distributed training mmengine's wrapper would call ``forward(mode='loss')``
and skip the sandwich step; :class:`FlowNASDDP` (``model_wrapper_cfg``) runs
it through the wrapper instead, as mmrazor's ``BigNASDDP`` does for BigNAS.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmrazor.models.algorithms.base import BaseAlgorithm
from mmrazor.models.distillers import ConfigurableDistiller
from mmrazor.models.mutators import NasMutator
from mmrazor.models.utils import add_prefix
from mmrazor.registry import MODEL_WRAPPERS, MODELS
from torch import Tensor, nn

from mmext.checkpoint import load_model_weights
from mmext.flow.models.base import InputPadder
from .searchable_encoder import (ARCH_KEYS, CHOICE_ALIASES, FlowNASEncoder,
                                 SearchableFlowNASEncoder)

__all__ = ['FlowNAS', 'FlowNASDDP']


@MODELS.register_module()
class FlowNAS(BaseAlgorithm):
    """FlowNAS: a RAFT supernet over the encoder's architecture, trained by
    sandwich sampling and Feature Alignment Distillation.

    Args:
        architecture (dict): An mmext ``RAFT`` config (e.g. a RAFT recipe's
            model). Its ``encoder`` and ``cxt_encoder`` are replaced by
            ``encoder`` with their input/output channels and norm: the
            supernet. A config, not a built model, because exported subnets
            are configs derived from it.
        teacher (dict | BaseModel): The trained flow estimator whose encoder
            features guide the supernet (an mmext ``RAFT``).
        distiller (dict): ``ConfigurableDistiller`` config: recorders on the
            encoders of the supernet (student) and the teacher, the alignment
            losses with their weights and the mapping between them.
        teacher_ckpt (str, optional): Teacher weights, loaded with an exact
            fit by :func:`mmext.checkpoint.load_model_weights` (mmext
            checkpoints and mmflow model-zoo ``{'meta', 'state_dict'}``
            files). None keeps the teacher as built (its weights then come
            with a FlowNAS checkpoint). Defaults to None.
        encoder (dict): The searchable encoder (search space, strides,
            stem, initialisation), without channels and norm. Defaults to
            dict(type='mmrazor.SearchableFlowNASEncoder').
        mutator (dict): ``NasMutator`` config. Defaults to
            dict(type='mmrazor.NasMutator').
        num_random_samples (int): Random subnets per step, besides the
            largest and the smallest. Defaults to 2.
        flow_loss_weight (float): Weight of the flow loss. Defaults to 1.
        data_preprocessor (dict | nn.Module, optional): Defaults to the
            supernet's.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 architecture: dict,
                 teacher: Union[dict, BaseModel],
                 distiller: dict,
                 teacher_ckpt: Optional[str] = None,
                 encoder: dict = dict(type='mmrazor.SearchableFlowNASEncoder'),
                 mutator: dict = dict(type='mmrazor.NasMutator'),
                 num_random_samples: int = 2,
                 flow_loss_weight: float = 1.,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not isinstance(architecture, dict):
            raise TypeError('architecture must be a config dict')
        architecture = copy.deepcopy(architecture)
        for name in ('encoder', 'cxt_encoder'):
            raft_encoder = architecture[name]
            architecture[name] = dict(
                copy.deepcopy(encoder),
                in_channels=raft_encoder['in_channels'],
                out_channels=raft_encoder['out_channels'],
                norm_cfg=raft_encoder['norm_cfg'])
        self.architecture_cfg = copy.deepcopy(architecture)
        super().__init__(architecture, data_preprocessor, init_cfg)
        encoder, context = self.architecture.encoder, self.architecture.context
        if not isinstance(encoder, SearchableFlowNASEncoder):
            raise TypeError('encoder must be a SearchableFlowNASEncoder')
        context.follow(encoder)
        self.mutator: NasMutator = MODELS.build(mutator)
        self.mutator.prepare_from_supernet(self.architecture)
        # Search groups are named by the mutator ('channel_3', 'value_7');
        # the mutables' aliases place them in the architecture.
        self._group_aliases = {
            group: getattr(mutables[0], 'mutable_channel', mutables[0]).alias
            for group, mutables in self.mutator.search_groups.items()
        }
        self._alias_places = {
            f'stage{stage + 1}.{name}': (key, stage)
            for key, name in CHOICE_ALIASES.items()
            for stage in range(len(encoder.layers))
        }

        self.teacher = teacher if isinstance(teacher, nn.Module) \
            else MODELS.build(teacher)
        if teacher_ckpt is not None:
            load_model_weights(self.teacher, teacher_ckpt)
            # Runner.init_weights must not overwrite the loaded weights.
            self.teacher._is_init = True
        self.teacher.requires_grad_(False)
        self.teacher.eval()

        self.distiller: ConfigurableDistiller = MODELS.build(distiller)
        self.distiller.prepare_from_student(self.architecture)
        self.distiller.prepare_from_teacher(self.teacher)

        self.sample_kinds = ['max', 'min'] + [
            f'random{i}' for i in range(num_random_samples)
        ]
        self.flow_loss_weight = flow_loss_weight

    # -- architectures -----------------------------------------------------

    @property
    def current_arch(self) -> Dict[str, List[int]]:
        """The architecture the supernet runs now (per-stage lists)."""
        return self.architecture.encoder.current_arch

    def arch_to_choices(self, arch: Dict[str, List[int]]) -> Dict[str, int]:
        """The mutator's choices (search group -> value) of ``arch``."""
        choices = {}
        for group, alias in self._group_aliases.items():
            if alias in self._alias_places:
                key, stage = self._alias_places[alias]
                choices[group] = arch[key][stage]
            else:  # the stem's single width
                stem = self.mutator.search_groups[group][0]
                choices[group] = stem.max_choice
        return choices

    def choices_to_arch(self, choices: Dict[str, int]) -> Dict[str, list]:
        """The architecture (per-stage lists) of the mutator's ``choices``."""
        num_stages = len(self.architecture.encoder.layers)
        arch = {key: [None] * num_stages for key in ARCH_KEYS}
        for group, alias in self._group_aliases.items():
            if alias in self._alias_places:
                key, stage = self._alias_places[alias]
                arch[key][stage] = choices[group]
        return arch

    def set_arch(self, arch: Dict[str, List[int]]) -> None:
        """Make the supernet run ``arch``."""
        self.mutator.set_choices(self.arch_to_choices(arch))

    def subnet_cfg(self, arch: Optional[Dict[str, List[int]]] = None) -> dict:
        """The config of the standalone RAFT of ``arch`` (default: the
        current architecture): the supernet's config with
        :class:`FlowNASEncoder` encoders of that architecture."""
        arch = self.current_arch if arch is None else arch
        cfg = copy.deepcopy(self.architecture_cfg)
        cfg['encoder'] = self.architecture.encoder.static_cfg(arch)
        cfg['cxt_encoder'] = self.architecture.context.static_cfg(arch)
        return cfg

    def subnet_num_params(self, arch: Dict[str, List[int]]) -> int:
        """Parameters of the standalone RAFT of ``arch``, counted without
        building it: the supernet's parameters outside the encoders (only
        the encoders are searched) plus those of the two encoders of
        ``arch`` (:meth:`FlowNASEncoder.num_params`)."""
        encoders = (self.architecture.encoder, self.architecture.context)
        fixed = sum(p.numel() for p in self.architecture.parameters()) - sum(
            p.numel() for encoder in encoders
            for p in encoder.parameters())
        return fixed + sum(
            FlowNASEncoder.num_params(**encoder.static_cfg(arch))
            for encoder in encoders)

    # -- training ----------------------------------------------------------

    def train(self, mode: bool = True) -> 'FlowNAS':
        super().train(mode)
        self.teacher.eval()
        return self

    def _set_subnet(self, kind: str) -> None:
        if kind == 'max':
            self.mutator.set_max_choices()
        elif kind == 'min':
            self.mutator.set_min_choices()
        else:
            self.mutator.set_choices(self.mutator.sample_choices())

    @torch.no_grad()
    def _record_teacher(self, inputs: Tensor) -> None:
        """Run the teacher's encoders on ``inputs`` and record their outputs.

        The supernet pads its inputs to a multiple of its size divisor;
        the teacher sees the same padded images, so the features align.
        """
        padder = InputPadder(inputs.shape[-2:], self.architecture.size_divisor)
        with self.distiller.teacher_recorders:
            self.teacher.extract_feat(padder.pad(inputs))

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One sandwich step: every subnet kind back-propagates its flow and
        alignment losses; one optimizer step follows.

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapper): The optimizer wrapper.

        Returns:
            dict[str, Tensor]: The losses of each subnet, prefixed
            ``max_subnet.``, ``min_subnet.``, ``random0_subnet.``, ...
        """
        return self.sandwich_step(self, data, optim_wrapper)

    def sandwich_step(self, model: nn.Module, data: Union[dict, tuple, list],
                      optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """The sandwich step with the subnets' forward passes run by
        ``model``: this algorithm, or the distributed wrapper around it (so
        that its gradients are reduced; see :class:`FlowNASDDP`).

        Every subnet is one ``optim_wrapper.update_params`` call: the
        wrapper's accumulation counts are scaled by the number of subnets
        (:meth:`count_subnets_in`), so its optimizer steps once per batch, or
        once per ``accumulative_counts`` batches, and a distributed wrapper
        reduces the gradients only with the last subnet's backward.
        """
        self.count_subnets_in(optim_wrapper)
        data = self.data_preprocessor(data, True)
        inputs, data_samples = data['inputs'], data['data_samples']
        self._record_teacher(inputs)
        log_vars = {}
        for kind in self.sample_kinds:
            self._set_subnet(kind)
            with optim_wrapper.optim_context(model), \
                    self.distiller.student_recorders:
                losses = model(inputs, data_samples, mode='loss')
                losses = {k: self.flow_loss_weight * v
                          for k, v in losses.items()}
                losses.update(self.distiller.compute_distill_losses())
                loss, subnet_vars = self.parse_losses(losses)
                optim_wrapper.update_params(loss)
            log_vars.update(add_prefix(subnet_vars, f'{kind}_subnet'))
        return log_vars

    def count_subnets_in(self, optim_wrapper: OptimWrapper) -> None:
        """Make ``optim_wrapper`` count one backward per subnet (once).

        mmengine counts one ``update_params`` per iteration: its Runner sets
        the inner count to the iteration and the maximum to ``max_iters``.
        Here an iteration is one call per subnet kind, so the counts and the
        accumulation are multiplied by their number: each subnet's loss is
        then divided by ``kinds x accumulative_counts`` (every subnet weighs
        the same) and the optimizer steps when a batch (or the configured
        number of batches) is complete. mmrazor's
        ``reinitialize_optim_wrapper_count_status`` scales the counts but not
        the accumulation, so BigNAS steps after every subnet.
        """
        kinds = len(self.sample_kinds)
        if getattr(optim_wrapper, '_flownas_kinds', None) == kinds:
            return
        optim_wrapper._accumulative_counts *= kinds
        max_counts = optim_wrapper._max_counts
        optim_wrapper.initialize_count_status(
            self, optim_wrapper._inner_count * kinds,
            max_counts * kinds if max_counts > 0 else max_counts)
        optim_wrapper._flownas_kinds = kinds

    @torch.no_grad()
    def alignment_distance(self, inputs: Tensor) -> Tensor:
        """The summed alignment losses of the current subnet on ``inputs``
        (normalised image pairs), a search criterion besides the EPE."""
        self._record_teacher(inputs)
        padder = InputPadder(inputs.shape[-2:], self.architecture.size_divisor)
        with self.distiller.student_recorders:
            self.architecture.extract_feat(padder.pad(inputs))
        return sum(self.distiller.compute_distill_losses().values())


@MODEL_WRAPPERS.register_module()
class FlowNASDDP(MMDistributedDataParallel):
    """Distributed data parallel FlowNAS: the sandwich step of
    :meth:`FlowNAS.sandwich_step` with every subnet's forward pass run by
    this wrapper, so DDP reduces the gradients (once per step, with the last
    subnet; the others run under ``no_sync``).

    mmengine's ``MMDistributedDataParallel.train_step`` calls the wrapped
    model's ``forward(mode='loss')``, which trains the current subnet on the
    flow loss alone; mmrazor's ``BigNASDDP`` is tied to BigNAS (its dropout
    on ``architecture.backbone``, distillation from the largest subnet).

    Args:
        module (FlowNAS): The algorithm.
        find_unused_parameters (bool): Must be True unless every subnet uses
            every parameter: a subnet leaves the blocks and channels outside
            its architecture without gradients. Defaults to True.
        broadcast_buffers (bool): Broadcast rank 0's buffers (BatchNorm
            statistics) at every forward. Defaults to False, as mmengine's
            default wrapper.
        **kwargs: The other arguments of ``MMDistributedDataParallel``
            (``device_ids`` ...).
    """

    def __init__(self,
                 module: FlowNAS,
                 find_unused_parameters: bool = True,
                 broadcast_buffers: bool = False,
                 **kwargs) -> None:
        if not isinstance(module, FlowNAS):
            raise TypeError('FlowNASDDP wraps a FlowNAS algorithm, got '
                            f'{type(module).__name__}')
        super().__init__(
            module=module,
            find_unused_parameters=find_unused_parameters,
            broadcast_buffers=broadcast_buffers,
            **kwargs)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One sandwich step of the wrapped :class:`FlowNAS` (see
        :meth:`FlowNAS.train_step`), its forward passes through this
        wrapper."""
        return self.module.sandwich_step(self, data, optim_wrapper)
