"""Where tasks run: turns a user's choice into a ``distributed.Client``."""

from ai4geo_lab.cluster.factory import ClusterConfig, connect, parse_spec, start_cluster

__all__ = ["ClusterConfig", "connect", "parse_spec", "start_cluster"]
