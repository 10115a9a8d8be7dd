"""Flink operators."""

from aiflow_core.operators.flink.flink_operator import FlinkOperator

__all__ = ["FlinkOperator"]
