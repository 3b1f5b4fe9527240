"""Realistic secrets, one per format, for the redaction tests (unit and end to end).

Every value is synthetic but format-valid: the prefix, alphabet and length a real one has, so a rule that
would miss the real thing misses this one too. Each has a distinctive ``tail`` (its last 12 characters),
which appears nowhere else: a leak that shows only part of a secret is still found by its tail.

``template`` is how the secret is usually written. Self-identifying tokens stand alone (``"{}"``); a secret
known only by its name or place carries it (``DD_API_KEY={}``, ``redis://:{}@cache:6379``, a PEM frame).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["CORPUS", "SecretSample"]


@dataclass(frozen=True, slots=True)
class SecretSample:
    """One secret format: the secret itself, its distinctive tail, and how it is written."""

    kind: str
    value: str
    template: str = "{}"
    tail: str = field(init=False)
    # True when the value alone is recognisable (a prefixed token): it is also planted in header and URL forms.
    standalone: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tail", self.value[-12:])
        object.__setattr__(self, "standalone", self.template == "{}")

    @property
    def planted(self) -> str:
        """The secret as it is usually written."""
        return self.template.format(self.value)

    def forms(self) -> dict[str, str]:
        """The secret alone, in a sentence, in JSON, in a log line, and (tokens) in a header and a URL."""
        forms = {
            "alone": self.planted,
            "sentence": f"Hi team, the deploy used {self.planted} yesterday, please rotate it.",
            "json": json.dumps({"level": "error", "msg": f"config dump {self.planted}", "n": 3}),
            "log line": f"2026-11-30T09:14:02.117Z ERROR [worker-3] request_id=req-7f3a9c failed: {self.planted}",
        }
        if self.standalone:
            forms["header"] = f"curl -H 'Authorization: Bearer {self.value}' https://api.example.com/v1/items"
            forms["url"] = f"https://api.example.com/v1/items?access_token={self.value}&page=2"
            forms["x-header"] = f"X-Api-Key: {self.value}"
        return forms


_PEM = "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----"
_OPENSSH = "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----"

CORPUS: tuple[SecretSample, ...] = (
    SecretSample("slack bot token", "xoxb-290554124031-3564198990136-Yumle29nmwYfq483XZZLT2tr"),
    SecretSample("slack user token", "xoxp-921947852405-087836282163-1016792439753-2965174b7b0d8087fdedefbfc2f9ddca"),
    SecretSample(
        "slack app token",
        "xapp-1-A01A2VS596U-1758253795304-a9482666f16a2e60571f6dfd8fd7c17ca9f0d5acb395561690bd31fcaa809cf2",
    ),
    SecretSample(
        "slack webhook url", "https://hooks.slack.com/services/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"
    ),
    SecretSample("github pat (classic)", "ghp_lJf0Dju5aSqdWssjo12ftQyz0HLEvN7TbK47"),
    SecretSample("github oauth token", "gho_gQcpobB2OlatoaybhHitbwJuQ5gKeiOLS4GM"),
    SecretSample("github user-to-server token", "ghu_tbtK4FEzkQxYISTCguXPeGq0eKoNy5cQ0uyV"),
    SecretSample("github app installation token", "ghs_sOYYDVJXRhovvuUvBEwJSuBVKpbYeZjCpQrW"),
    SecretSample("github refresh token", "ghr_H10dkcxaP50Aqg6hnb5tZKW8iMPqayL86nKI"),
    SecretSample(
        "github fine-grained pat",
        "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",
    ),
    SecretSample("gitlab pat", "glpat-FFHFM1JkVzGAVb9VGCdz"),
    SecretSample(
        "stripe live secret key",
        "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",
    ),
    SecretSample(
        "stripe live restricted key",
        "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",
    ),
    SecretSample(
        "stripe test secret key",
        "sk_test_51Ss25g3jFm25ECrugcYq8YYUt3pnMWdKNHpZhfuNIqwpJ7DtjRG0aQ3x1p5jBdeMGSbVfwbZzoYfe8C6dQcS2hjU75neHgL2dx",
    ),
    SecretSample("stripe webhook secret", "whsec_kBvcYygAvgk84B2KCp7o2RcZUJVufHAS"),
    SecretSample("google api key", "AIza9G1QxKBghE-iLjxlfXPXBWKLnbjFN4LqV-j"),
    SecretSample(
        "openai project key",
        "sk-proj-zIAZ823NEgZAIqxHpWsgTyU4uU438NxescGbbqjhAfe0LwDuyWqX_nkYYv6RwBoaEisEw8xCNoT3BlbkFJpcN_soo2s_knQKE9PDXlPO"
        "-jWkw84jI9RZh2rXF3IgVQ4P2NUPkrMqZ72GSpPuDrtlUvl9bGEp",
    ),
    SecretSample("openai legacy key", "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"),
    SecretSample(
        "anthropic api key",
        "sk-ant-api03-YwhWD1IuixzFMIAJdMr2KUiP3PwbclL9z9RXEj7DStXUyC7HVHcIVWtbgZ5lUH22HVc9NbWS5d-Hy954aQG6qsVNz-cKvAA",
    ),
    SecretSample(
        "jwt",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIyMzk2MjE2NjY2IiwibmFtZSI6InN2Yy1kZXBsb3kiLCJpYXQiOjE3NjQ0ODk2MDB9"
        ".PSAnZ6wqZ5BuhNL3BeqtRMW7OL5sIob_MACxy51ua_0",
    ),
    SecretSample("npm token", "npm_wZqffKKNee7Tll8tJVFDIzi6zStUWvZO31hu"),
    SecretSample(
        "pypi token",
        "pypi-AgEIcHlwaS5vcmcFmsX_AT-E1KQP-Yul8SJcNRRjFqz9l65blA8QVDwxPrLRc7Zs1nE54-iNLFj2uT-SSBuUKthNpYWEL6_Tvivd8xRk3"
        "wOh9OXf9DM8eT-zwZ5KZJoGUm76swR",
    ),
    SecretSample("sendgrid api key", "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"),
    SecretSample("twilio api key sid", "SKbb5548aa5599348021ddd982ab727609"),
    SecretSample("twilio account sid", "AC6e9626e00b2dd23c1730aba4c1549312"),
    SecretSample("twilio auth token", "47bf7aed6d3708958a7fcd5161bc9475", "TWILIO_AUTH_TOKEN={}"),
    SecretSample("datadog api key", "34fd16223d4ff8fe36c99f6117bc942a", "DD_API_KEY={}"),
    SecretSample("datadog app key", "49d6287c61e395555fb8f4df40483d06d9cff803", "datadog_app_key: {}"),
    SecretSample(
        "azure storage connection string",
        "aqbYKgP30Pl/zl268PQhGPhGNor8KFSxYf4AyqN3Ucx12wixujUwCV3/mnlsJiUOmLyjxaRqGP/fI4yw0zYghQ==",
        "DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey={};EndpointSuffix=core.windows.net",
    ),
    SecretSample(
        "hashicorp vault token",
        "hvs.mw_SV5XS-8pb9drMihVnrKWyPitiRRiBDN6tvb6sE2fvWUC6Q7lvKLZmG0FhyYu8g4l2WOzYS6GUeA0FjF6145yhVs",
    ),
    SecretSample("hugging face token", "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"),
    SecretSample("digitalocean token", "dop_v1_1bb01067aa6d4d20079b7029d00d246e28cc3c5822dc4de648c6b480f08ed18d"),
    SecretSample("shopify access token", "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"),
    SecretSample("aws access key id", "AKIAFL5CXEYFO2IBR7YO"),
    SecretSample("aws secret access key", "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", "aws_secret_access_key = {}"),
    SecretSample(
        "aws session token",
        "IQoJb3JpZ2luX2VjEnl9ihxQT5oAfRO+zN6oQj3OC2Sj25Bgm/KZQvhFnKiTNyrkUnihwt9BdadVGDuLNJfv+ULjRjfWcHfpYmFuIVfjfz9pNQF"
        "VddpURWdYR/sO6MrXzOeJGErg9y3JkOBid0szTdKNSn6W//MstzH2GfLGXlkH8B+xB7jaSXbdsbIL08/jEgACYGxYrwe4h5mLb1GbzCY3RdaPe"
        "LccCw9fZsN5pYv59zpLpd9JfPfQ7ht9Wx5jdjNTkbijb94fwAjqFCzPuObG9+qkcwiGBgn5W0EbgEbbbpIput+UATIAnVH4V",
        "AWS_SESSION_TOKEN={}",
    ),
    SecretSample(
        "rsa private key",
        "MIIEowIBAAKCAQEA0Mt4xhll0rOxTxQqtumjm4pzwVJ2rD8ctahJnlByytUuqS4vyVe\n"
        "79BugHP44uuf7uw6FPblH0Z1jJdPJ3+87UZ6JGx6ZbjBfEe2lzJY4gVFtvEshT0n\n"
        "em2OjssSff1Kf2OOZHIp2FLmeEdMxx6DKvv4VNib4OMuiW0q5ck4+zLGZJw7OPtt",
        _PEM,
    ),
    SecretSample(
        "openssh private key",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n"
        "/C64yhGED+MRyWd0gmvJR90UzzRFDOwjip2QZgf33NCWFwZDYNDnt/Hs1wpTwZnl\n"
        "NjzXQfivDwPxC5krcElGcubPpWsHSQh1SLKsl2pTqHBdZz1tWW+wzo9JsGP3DL9b",
        _OPENSSH,
    ),
    SecretSample("bearer token header", "LRTegznI0ssgjLQlQRCCCMqOiZzyeHAE7hgfO4aq", "Authorization: Bearer {}"),
    SecretSample("basic auth header", "ZGVwbG95LWJvdDprSEZXMnpUMUtkUmJpSDQwcjlmdw==", "Authorization: Basic {}"),
    SecretSample("url credentials", "O60YlEtrBVF2gGpFC6vi", "postgres://app:{}@db.internal:5432/app"),
    SecretSample("url password without user", "oG6szETeXQUGtVotuDgNEogC", "redis://:{}@cache.internal:6379/0"),
    SecretSample("password assignment", "MDjreQ0dyg!xpZww#R", "DB_PASSWORD={}"),
    SecretSample("generic api_key assignment", "IdjoNyjVqnMXta18HTqOSzWtUCKBwFoF", 'api_key: "{}"'),
    SecretSample("generic secret assignment", "J20k98Chz3HVLZzJ5yk7quoSIC08qd83mIhQGdUy", "client_secret={}"),
    SecretSample("generic token assignment", "Cr8s41mzhwz2CN4xUPtPdZZdd3nc3Rydpc5y", "token={}"),
)
