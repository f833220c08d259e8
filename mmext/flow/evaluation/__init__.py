"""Optical-flow metrics (mmflow's names), registered in mmext's ``METRICS``."""
from .metrics import EndPointError, FlowOutliers

__all__ = ['EndPointError', 'FlowOutliers']
