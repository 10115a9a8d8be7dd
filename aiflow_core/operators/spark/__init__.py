"""Spark operators."""

from aiflow_core.operators.spark.spark_sql import SparkSqlOperator
from aiflow_core.operators.spark.spark_submit import SparkSubmitOperator

__all__ = ["SparkSqlOperator", "SparkSubmitOperator"]
