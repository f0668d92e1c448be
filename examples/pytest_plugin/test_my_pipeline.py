"""Test your own pipeline against a local Polaris Hub with the `polaris.testing` pytest plugin.

The plugin is installed with the package; its fixtures are available in any test suite:

* ``local_hub``  - a seeded local Hub (session-scoped), started on a free loopback port and stopped at the end;
* ``hub_client`` - a ``PolarisHubClient`` logged in to it as ``demo-user``.

Run:  pytest examples/pytest_plugin
"""

from __future__ import annotations


def my_pipeline(client, benchmark_id: str) -> float:  # type: ignore[no-untyped-def]
    """A stand-in for your own code: predict the training mean for every test molecule."""
    benchmark = client.get_benchmark(benchmark_id)
    train, test = benchmark.get_train_test_split()
    mean = float(train.y.mean())
    results = benchmark.evaluate([mean] * len(test))
    return float(results.results["Score"].iloc[0])


def test_pipeline_runs_against_the_local_hub(hub_client) -> None:  # type: ignore[no-untyped-def]
    benchmarks = hub_client.list_benchmarks()
    assert benchmarks, "the demo seed has at least one benchmark"
    score = my_pipeline(hub_client, benchmarks[0])
    assert score == score  # a real number, not NaN
