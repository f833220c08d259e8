"""Fold the channel permutations of a deploy model through its graph.

Every :class:`~.deploy.PermutedGroupConv2d` gathers its input and scatters its
output, two copies of an activation per conv. Channel-wise operations (batch
norm, activations, pooling, depthwise convs) commute with a permutation of the
channels, so a tensor may as well be stored with its channels in another
order, its *layout*, as long as whoever reads it knows that order.
:func:`fold_permutations` traces the model with :mod:`torch.fx` and lets every
producer write the layout that costs nothing: a grouped conv its own output
order, a dense conv (whose rows can be permuted) the order its reader wants.
Layouts are reconciled only where tensors meet:

- a grouped conv reads through one index, its gather composed with the
  layout it is given (none if they agree);
- a dense conv absorbs the layout into its weight's input columns, a batch
  norm or depthwise conv into its per-channel parameters;
- a concatenation concatenates the layouts (no copy);
- an addition of two layouts scatters one operand into the other with an
  in-place ``index_add_`` (one pass instead of a copy and an add) when the
  operand written into is read by no later operation; otherwise a copy and
  an add;
- anything else, and the model's outputs, get the natural order.

Finally each batch norm that follows a conv is fused into it. The result is
an inference-only :class:`torch.fx.GraphModule` computing the same outputs.

mmrazor's channel analysis (``ChannelAnalyzer``) finds which channels must be
pruned together but does not rewrite a graph or track orders, so the pass
works on the fx graph directly.
"""
import copy
import itertools
import operator

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .deploy import PermutedGroupConv2d

__all__ = ['fold_permutations']

#: Modules that act on each channel alike and keep the channel dimension.
CHANNELWISE_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU,
                       nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish,
                       nn.Hardsigmoid, nn.Identity, nn.Dropout, nn.MaxPool2d,
                       nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                       nn.AdaptiveMaxPool2d)
CHANNELWISE_FUNCTIONS = (F.relu, torch.relu)
ADDITIONS = (operator.add, torch.add)
#: Reads of metadata only, not of the channels.
METADATA_METHODS = ('size', 'dim')


class _Tracer(fx.Tracer):
    """Keeps :class:`PermutedGroupConv2d` as one node."""

    def is_leaf_module(self, module, qualname):
        return (isinstance(module, PermutedGroupConv2d)
                or super().is_leaf_module(module, qualname))


def _inverse(perm):
    return torch.argsort(perm)


def _is_identity(perm):
    return torch.equal(perm, torch.arange(len(perm)))


def _normalise(perm):
    """A layout: ``None`` for the natural order, else the permutation."""
    return None if perm is None or _is_identity(perm) else perm


class _LayoutFolder:
    """One pass over the graph in execution order.

    A layout ``sigma`` means ``stored[:, j] == natural[:, sigma[j]]``;
    ``None`` is the natural order.

    Args:
        gm (torch.fx.GraphModule): The traced model, with shapes propagated;
            rewritten in place.
        device (torch.device): Where the index tensors go.
    """

    def __init__(self, gm, device):
        self.gm = gm
        self.device = device
        self.graph = gm.graph
        self.layouts = {}
        self.reindexed = {}
        self.done = set()
        self.constants = itertools.count()
        calls = [n.target for n in self.graph.nodes if n.op == 'call_module']
        self.called_once = {t for t in calls if calls.count(t) == 1}

    def run(self):
        for node in list(self.graph.nodes):
            if self._writes_into_input(node):
                self._forget_gathers(node.args[0])
            self.layouts[node] = self._visit(node)
            self.done.add(node)

    def _writes_into_input(self, node):
        return bool(node.args) and (
            getattr(self._module(node), 'inplace', False)
            or node.kwargs.get('inplace', False))

    def _forget_gathers(self, node):
        """Gathers of ``node`` made so far hold its value before it is
        overwritten; later readers must not share them."""
        for key in [k for k in self.reindexed if k[0] is node]:
            del self.reindexed[key]

    # Helpers.

    def _module(self, node):
        if node.op == 'call_module':
            return self.gm.get_submodule(node.target)
        return None

    def _channels(self, node):
        return node.meta['tensor_meta'].shape[1]

    def _as(self, node, layout, before, shared=False):
        """``node`` stored in ``layout``: itself, or a gather, ``shared``
        with other readers that want the same layout (convs only: other
        modules may write into their input)."""
        index = self._index(self.layouts.get(node), layout)
        if index is None:
            return node
        key = (node, index.numpy().tobytes(), True if shared else object())
        if key not in self.reindexed:
            with self.graph.inserting_before(before):
                gather = self.graph.call_method(
                    'index_select', (node, 1, self._constant(index)))
            gather.meta = dict(node.meta)
            self.layouts[gather] = layout
            self.done.add(gather)
            self.reindexed[key] = gather
        return self.reindexed[key]

    @staticmethod
    def _index(source, target):
        """``i`` with ``stored_target == stored_source[:, i]``, or ``None``."""
        if source is None and target is None:
            return None
        natural = torch.arange(len(target if source is None else source))
        source = natural if source is None else source
        target = natural if target is None else target
        index = _inverse(source)[target]
        return None if _is_identity(index) else index

    def _constant(self, tensor):
        name = f'_fold_index_{next(self.constants)}'
        self.gm.register_buffer(name, tensor.to(self.device))
        return self.graph.get_attr(name)

    def _natural_inputs(self, node):
        """The generic rule: every tensor argument in the natural order."""
        node.args = fx.map_arg(node.args, lambda a: self._as(a, None, node))
        node.kwargs = fx.map_arg(node.kwargs,
                                 lambda a: self._as(a, None, node))
        return None

    def _wanted_by_reader(self, node):
        """The input order of the grouped conv that alone reads ``node``
        through channel-wise modules, if there is one."""
        while len(node.users) == 1:
            (node, ) = node.users
            module = self._module(node)
            if (isinstance(module, PermutedGroupConv2d)
                    and node.target in self.called_once):
                return _normalise(module.in_perm.cpu())
            if not isinstance(module, CHANNELWISE_MODULES + (_BatchNorm, )):
                return None
        return None

    def _writable(self, node, addition):
        """Whether ``addition`` may overwrite ``node``: no later operation
        reads it or any tensor it aliases through in-place operations."""
        while True:
            if node.op not in ('call_module', 'call_method', 'call_function'):
                return False
            if any(user is not addition and user not in self.done
                   for user in node.users):
                return False
            if self._writes_into_input(node) or (
                    node.op == 'call_method' and node.target == 'index_add_'):
                node = node.args[0]
                continue
            return (isinstance(self._module(node), (nn.Conv2d, _BatchNorm))
                    or node.target in ADDITIONS)

    # Rules.

    def _visit(self, node):
        if node.op == 'output':
            return self._natural_inputs(node)
        if node.op == 'call_module':
            return self._visit_module(node, self._module(node))
        if node.op == 'call_function' and node.target in ADDITIONS:
            return self._visit_addition(node)
        if node.op == 'call_function' and node.target is torch.cat:
            return self._visit_cat(node)
        if (node.op == 'call_function'
                and node.target in CHANNELWISE_FUNCTIONS
                and isinstance(node.args[0], fx.Node)):
            return self.layouts.get(node.args[0])
        if node.op == 'call_method' and node.target in METADATA_METHODS:
            return None
        return self._natural_inputs(node)

    def _visit_module(self, node, module):
        if len(node.args) != 1 or node.kwargs:
            return self._natural_inputs(node)
        (source, ) = node.args
        layout = self.layouts.get(source)
        if isinstance(module, CHANNELWISE_MODULES):
            return layout
        if node.target not in self.called_once:  # shared parameters
            return self._natural_inputs(node)
        if isinstance(module, PermutedGroupConv2d):
            node.args = (self._as(source, _normalise(module.in_perm.cpu()),
                                  node, shared=True), )
            self.gm.set_submodule(node.target, _plain_conv(module))
            return _normalise(_inverse(module.out_perm_inv.cpu()))
        if isinstance(module, nn.Conv2d) and module.groups == 1:
            output = self._wanted_by_reader(node)
            weight = module.weight.data
            if layout is not None:
                weight = weight[:, layout.to(weight.device)]
            if output is not None:
                weight = weight[output.to(weight.device)]
                if module.bias is not None:
                    module.bias.data = module.bias.data[output.to(
                        weight.device)]
            module.weight.data = weight.contiguous()
            return output
        depthwise = (
            isinstance(module, nn.Conv2d)
            and module.groups == module.in_channels == module.out_channels)
        if isinstance(module, _BatchNorm) or depthwise:
            if layout is not None:
                _permute_channels(module, layout)
            return layout
        return self._natural_inputs(node)

    def _visit_addition(self, node):
        operands = node.args
        if len(operands) != 2 or node.kwargs or not all(
                isinstance(a, fx.Node) and 'tensor_meta' in a.meta
                for a in operands):
            return self._natural_inputs(node)
        first, second = operands
        if (first.meta['tensor_meta'].shape !=
                second.meta['tensor_meta'].shape):
            return self._natural_inputs(node)
        layouts = [self.layouts.get(a) for a in operands]
        if self._index(*layouts) is None:
            return layouts[0]
        # Scatter the fresher operand into the other one, which keeps its
        # layout (for a residual stream, the stream's).
        for target, source in ((second, first), (first, second)):
            if self._writable(target, node):
                layout = self.layouts.get(target)
                index = self._index(layout, self.layouts.get(source))
                self._forget_gathers(target)
                with self.graph.inserting_before(node):
                    scatter = self.graph.call_method(
                        'index_add_',
                        (target, 1, self._constant(index), source))
                scatter.meta = dict(node.meta)
                node.replace_all_uses_with(scatter)
                self.graph.erase_node(node)
                self.layouts[scatter] = layout
                self.done.add(scatter)
                return layout
        node.args = (first, self._as(second, layouts[0], node))
        return layouts[0]

    def _visit_cat(self, node):
        tensors = node.args[0] if node.args else node.kwargs['tensors']
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get(
            'dim', 0)
        rank = len(node.meta['tensor_meta'].shape)
        if dim % rank != 1 or not all(
                isinstance(t, fx.Node) and 'tensor_meta' in t.meta
                for t in tensors):
            return self._natural_inputs(node)
        parts, offset = [], 0
        for tensor in tensors:
            channels = self._channels(tensor)
            layout = self.layouts.get(tensor)
            parts.append((torch.arange(channels)
                          if layout is None else layout) + offset)
            offset += channels
        return _normalise(torch.cat(parts))


def _permute_channels(module, layout):
    """Reorder the per-channel parameters and buffers of a batch norm or a
    depthwise conv."""
    for tensor in itertools.chain(module.parameters(recurse=False),
                                  module.buffers(recurse=False)):
        if tensor.dim() > 0:
            tensor.data = tensor.data[layout.to(tensor.device)].contiguous()


def _plain_conv(module):
    """The grouped conv of a :class:`PermutedGroupConv2d`, without gathers."""
    conv = nn.Conv2d(module.in_channels, module.out_channels,
                     module.kernel_size, module.stride, module.padding,
                     module.dilation, module.groups, module.bias is not None,
                     module.padding_mode).to(module.weight)
    conv.load_state_dict(module.state_dict(), strict=False)
    return conv


def _fuse_batch_norms(gm):
    """Fuse each batch norm into the conv it alone reads from."""
    for node in list(gm.graph.nodes):
        if node.op != 'call_module' or not isinstance(
                gm.get_submodule(node.target), _BatchNorm):
            continue
        conv_node = node.args[0] if len(node.args) == 1 else None
        if (not isinstance(conv_node, fx.Node)
                or conv_node.op != 'call_module'
                or len(conv_node.users) != 1 or not isinstance(
                    gm.get_submodule(conv_node.target), nn.Conv2d)
                or sum(n.target == conv_node.target for n in gm.graph.nodes
                       if n.op == 'call_module') != 1):
            continue
        fused = fuse_conv_bn_eval(
            gm.get_submodule(conv_node.target), gm.get_submodule(node.target))
        gm.set_submodule(conv_node.target, fused)
        node.replace_all_uses_with(conv_node)
        gm.graph.erase_node(node)


@torch.no_grad()
def fold_permutations(model, example_input):
    """An inference-only copy of ``model`` with its channel permutations
    folded into neighbouring layers and batch norms fused into convs.

    Args:
        model (nn.Module): A deploy model (with
            :class:`~.deploy.PermutedGroupConv2d`) or any traceable model;
            an mmengine ``BaseModel`` is traced in ``mode='tensor'``.
        example_input (Tensor): An input of the model, for the shapes.

    Returns:
        torch.fx.GraphModule: Called with the input alone; returns what
        ``model(input)`` returns.
    """
    # Not ``deepcopy(model).eval()``: mmpretrain's ResNet.train returns None.
    model = copy.deepcopy(model)
    model.eval()
    concrete_args = (
        dict(data_samples=None, mode='tensor')
        if isinstance(model, BaseModel) else None)
    graph = _Tracer().trace(model, concrete_args=concrete_args)
    gm = fx.GraphModule(model, graph, type(model).__name__)
    ShapeProp(gm).propagate(example_input)
    _LayoutFolder(gm, example_input.device).run()
    _fuse_batch_norms(gm.eval())
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm
