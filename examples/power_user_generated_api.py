"""Call the typed, generated endpoints directly through ``client.api``.

``client.api`` is the generated ``polaris_hub_api`` client sharing the logged-in connection of
``PolarisHubClient`` (same token refresh, retries and TLS settings). Use it for endpoints or fields the
high-level methods do not cover.

    POLARIS_HUB_URL=http://127.0.0.1:8000/ POLARIS_USERNAME=demo-user POLARIS_PASSWORD=demo-password \
        python examples/power_user_generated_api.py
"""

from __future__ import annotations

from polaris_hub_api.api.benchmarks import list_benchmarks
from polaris_hub_api.models import BenchmarkList, Error

from polaris.hub.client import PolarisHubClient


def main() -> None:
    with PolarisHubClient() as client:
        client.login()
        response = list_benchmarks.sync_detailed(client=client.api, limit=5, offset=0)
        page = response.parsed
        if isinstance(page, Error) or page is None:
            raise SystemExit(f"the Hub answered {response.status_code}: {page}")
        assert isinstance(page, BenchmarkList)
        print(f"{page.metadata.total} benchmarks; the first {len(page.data)}:")
        for bench in page.data:
            print(f"  {bench.owner.slug}/{bench.name}  main metric: {bench.main_metric}  targets: {bench.target_cols}")


if __name__ == "__main__":
    main()
