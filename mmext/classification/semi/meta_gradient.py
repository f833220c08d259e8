"""The meta step of semi-supervised learning with meta-gradient.

Pseudo labels ``y~`` of the unlabeled images start as the network's
predictions. One SGD step on the consistency loss
``Phi(theta, y~) = sum_b ||softmax(f(x_u^b; theta)) - y~_b||^2`` (unit step
size) gives ``theta~(y~)``; the meta-gradient is the derivative of the labeled
loss at ``theta~`` with respect to ``y~``:

    g_y = d/dy~ L(x_l, y; theta - grad_theta Phi(theta, y~)).

At ``y~ = softmax(f(x_u; theta))`` (where the algorithm takes it) the
consistency gradient vanishes, so ``theta~ = theta`` and
``g_y = 2 J grad_theta L(theta)``, with ``J`` the Jacobian of the
unlabeled softmax outputs. Two computations of the same quantity:

* :func:`first_order_meta_gradient`: the reference code's central finite
  difference of the softmax outputs along the labeled-loss gradient, with
  step ``epsilon / ||grad L||`` (two extra forward passes, no second
  derivative). The reference drops the step size and batch-size constants of
  the unrolled step; so does the unit step above, which makes both functions
  estimate the same numbers.
* :func:`exact_meta_gradient`: the same derivative, differentiating through
  the unrolled step with :mod:`torch.func` (second order; for verification
  and small models).

Both take ``classify(params, inputs) -> logits``, a functional form of the
network (``torch.func.functional_call``), so parameters are never modified in
place, unlike the reference's add/subtract of the perturbation.
"""
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'exact_meta_gradient', 'first_order_meta_gradient', 'update_pseudo_labels'
]

Params = Dict[str, Tensor]
Classify = Callable[[Params, Tensor], Tensor]
LabeledLoss = Callable[[Tensor, Tensor], Tensor]


def first_order_meta_gradient(classify: Classify,
                              params: Params,
                              labeled_inputs: Tensor,
                              labels: Tensor,
                              unlabeled_inputs: Tensor,
                              labeled_loss: LabeledLoss = F.cross_entropy,
                              epsilon: float = 0.01) -> Tensor:
    """Finite-difference meta-gradient (the reference's first-order form).

    Args:
        classify (callable): ``classify(params, inputs)`` returns logits.
        params (dict[str, Tensor]): The parameters (requiring grad) at which
            the labeled-loss gradient is taken.
        labeled_inputs (Tensor): Labeled images, (B_l, C, H, W).
        labels (Tensor): Their class indices, (B_l, ).
        unlabeled_inputs (Tensor): Unlabeled images, (B_u, C, H, W).
        labeled_loss (callable): ``loss(logits, labels)``. Defaults to the
            mean cross-entropy.
        epsilon (float): Length of the parameter perturbation. Defaults to
            0.01, the reference's value.

    Returns:
        Tensor: (B_u, num_classes), without a graph.
    """
    loss = labeled_loss(classify(params, labeled_inputs), labels)
    grads = torch.autograd.grad(loss, list(params.values()))
    with torch.no_grad():
        norm = torch.cat([g.flatten() for g in grads]).norm()
        step = epsilon / norm.clamp_min(1e-12)
        plus, minus = {}, {}
        for (name, p), g in zip(params.items(), grads):
            plus[name] = p + step * g
            minus[name] = p - step * g
        difference = (F.softmax(classify(plus, unlabeled_inputs), dim=1) -
                      F.softmax(classify(minus, unlabeled_inputs), dim=1))
        return difference / step


def exact_meta_gradient(classify: Classify,
                        params: Params,
                        labeled_inputs: Tensor,
                        labels: Tensor,
                        unlabeled_inputs: Tensor,
                        pseudo_labels: Tensor,
                        labeled_loss: LabeledLoss = F.cross_entropy) -> Tensor:
    """Meta-gradient through one unrolled SGD step, with :mod:`torch.func`.

    Args:
        classify (callable): ``classify(params, inputs)`` returns logits.
        params (dict[str, Tensor]): The parameters ``theta``.
        labeled_inputs (Tensor): Labeled images, (B_l, C, H, W).
        labels (Tensor): Their class indices, (B_l, ).
        unlabeled_inputs (Tensor): Unlabeled images, (B_u, C, H, W).
        pseudo_labels (Tensor): ``y~``, (B_u, num_classes), the point where
            the derivative is taken (the predictions in the algorithm).
        labeled_loss (callable): ``loss(logits, labels)``. Defaults to the
            mean cross-entropy.

    Returns:
        Tensor: ``dL(theta~(y~))/dy~``, (B_u, num_classes), without a graph.
    """
    params = {name: p.detach() for name, p in params.items()}

    def labeled_loss_after_step(targets):

        def consistency(theta):
            probs = F.softmax(classify(theta, unlabeled_inputs), dim=1)
            return (probs - targets).pow(2).sum()

        grads = torch.func.grad(consistency)(params)
        stepped = {name: p - grads[name] for name, p in params.items()}
        return labeled_loss(classify(stepped, labeled_inputs), labels)

    return torch.func.grad(labeled_loss_after_step)(pseudo_labels.detach())


def update_pseudo_labels(predictions: Tensor, meta_gradient: Tensor,
                         step_size: float) -> Tensor:
    """``y^ = normalise(relu(y~ - step_size * g_y))``.

    The rows of ``y~`` sum to 1 and those of ``g_y`` to 0 (it is a derivative
    of softmax outputs along a direction), so before the ReLU every row sums
    to 1 and after it to at least 1: the renormalisation is always defined.

    Args:
        predictions (Tensor): ``y~``, softmax outputs, (B, num_classes).
        meta_gradient (Tensor): ``g_y``, same shape.
        step_size (float): ``beta_t``; the reference uses the current
            learning rate.

    Returns:
        Tensor: Pseudo labels, rows on the probability simplex.
    """
    labels = (predictions - step_size * meta_gradient).relu()
    return labels / labels.sum(dim=1, keepdim=True).clamp_min(1e-12)
