"""A moto account reached over HTTP, and the means to seed it: boto3 clients and moto's own seeding API."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3

REGION = "eu-west-1"


@dataclass
class MotoAccount:
    """The moto account a test runs against: boto3 clients to seed it, and moto's own seeding API."""

    url: str
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client for seeding ``service`` in moto."""
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=region, endpoint_url=self.url)
        return self._clients[key]

    def seed_cost_and_usage(self, results: list[dict[str, Any]]) -> None:
        """Queue GetCostAndUsage answers: moto's Cost Explorer returns nothing unless told what to return."""
        self._post("/moto-api/static/ce/cost-and-usage-results", {"results": results})

    def reset(self) -> None:
        """Forget every resource created so far."""
        self._post("/moto-api/reset", {})

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 (a local http URL we built)
            self.url + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
