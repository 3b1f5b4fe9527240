"""Every secret format in the corpus is redacted in every form it is written in; operational text survives."""

from __future__ import annotations

import json

import pytest

from agents.redaction import KINDS, Redactor
from agents.testing.secrets_corpus import CORPUS, SecretSample

REDACT = Redactor()


def _cases() -> list[tuple[SecretSample, str, str]]:
    return [(sample, form, text) for sample in CORPUS for form, text in sample.forms().items()]


def test_the_corpus_has_a_distinct_tail_per_format() -> None:
    """At least 31 formats, each with a 12-character tail found in no other sample and in no other form's wrapper."""
    assert len(CORPUS) >= 31
    tails = [sample.tail for sample in CORPUS]
    assert len(set(tails)) == len(tails)
    assert all(len(tail) == 12 and sample.value.endswith(tail) for sample, tail in zip(CORPUS, tails, strict=True))
    wrappers = " ".join(
        text.replace(sample.planted, "").replace(sample.value, "") for sample, form, text in _cases() if form != "json"
    )
    assert not any(tail in wrappers or tail in " ".join(ORDINARY) for tail in tails)


@pytest.mark.parametrize(("sample", "form", "text"), _cases(), ids=lambda v: v if isinstance(v, str) else v.kind)
def test_every_corpus_secret_is_redacted_in_every_form(sample: SecretSample, form: str, text: str) -> None:
    """Neither the value nor its tail survives; a marker names the kind."""
    redacted = REDACT(text)
    assert sample.value not in redacted
    assert sample.tail not in redacted
    assert "[REDACTED:" in redacted
    if form == "json":
        decoded = json.loads(redacted)  # redaction keeps JSON valid: only the secret inside a string changes
        assert sample.tail not in decoded["msg"]


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: s.kind)
def test_the_words_around_a_secret_survive(sample: SecretSample) -> None:
    """Only the secret goes: the sentence around it, and the name it was assigned to, stay readable."""
    redacted = REDACT(sample.forms()["sentence"])
    assert redacted.startswith("Hi team, the deploy used ")
    assert redacted.endswith(" yesterday, please rotate it.")
    markers = [part.split("]")[0] for part in redacted.split("[REDACTED:")[1:]]
    assert markers
    assert set(markers) <= KINDS


ORDINARY = [
    "arn:aws:iam::123456789012:role/orch-bot-readonly",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-password-a1B2c3",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:sts::123456789012:assumed-role/OrchBotRole/i-0abc123def4567890",
    "i-0abc123def4567890 in subnet-0bb1c79de3EXAMPLE sg-903004f8 vol-049df61146c4d7901",
    "RequestId: 3f2c8e1a-9b7d-4c5e-8f6a-1b2c3d4e5f60",
    "x-amzn-RequestId: 0c7e5d4a-1b2c-4d3e-9f8a-7b6c5d4e3f21 x-amz-request-id=4442587FB7D0A2F9",
    "request_id=req-0123456789ab failed after req-7f3a9c2b1d4e",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (short 9fceb02)",
    "ip-10-0-1-23.ec2.internal api-prod.us-east-1.elb.amazonaws.com db.internal:5432",
    "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/api-5xx",
    "AWS/ApplicationELB HTTPCode_Target_5XX_Count LoadBalancer=app/api-prod-alb/50dc6c495c0c9188",
    "TargetGroup=targetgroup/api-prod/0123456789abcdef CPUUtilization ApproximateNumberOfMessagesVisible",
    "INFO token refreshed for client 3fa85f6457174562b3fc2c96",
    "INFO cache hit key=user:48213 ttl=3600s",
    "INFO s3 put object bucket=acme-logs key=2024/05/01/3fa85f64-5717-4562-b3fc-2c963f66afa6.json",
    "usage: input_tokens=123456 output_tokens=789 max_tokens: 4096 cacheReadInputTokens=51234",
    "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/orch-bot/i-0abc is not authorized to perform: logs:Get",
    "the password reset email was sent; rotate the api key monthly; token expired",
    "disk-usage-alert-threshold-exceeded-prod task-0123456789abcdef0123456789abcdef",
    "kinesis shardId-000000000012 sequence 49590338271490256608559692538361571095921575989136588898",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:8a0f6c5e2b3d4c1e9f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
    "ALB 5xx rose to 12% at 14:02 on api-prod; p99 latency 2300 ms; see https://example.com/d/1",
    'nextToken: null, "token_type": "Bearer", "expires_in": 3600',
    "https://github.com/acme/api/pull/4711 ana@example.com <https://example.slack.com/archives/C0123ABCD|#ops>",
    "SKU-2231 ACME-1234 AccountName=acmelogs EndpointSuffix=core.windows.net",
    "Secrets Manager rotation for secret prod/db succeeded; session 3fa85f6457174562b3fc2c96a1b2c3d4 refreshed",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_operational_text_is_not_mistaken_for_a_secret(text: str) -> None:
    """ARNs, instance/request ids, UUIDs, SHAs, hosts, metric names and plain words pass unchanged."""
    assert REDACT(text) == text


def test_a_generated_log_passes_unchanged() -> None:
    """Ten thousand lines of the benchmark's synthetic service log contain no secret, and none is invented."""
    from benchmarks.loggen import generate_log  # noqa: PLC0415 - benchmarks are only needed here

    text = "\n".join(generate_log(10_000).lines)
    assert REDACT(text) == text


def test_a_secret_after_a_json_escape_is_found() -> None:
    r"""In encoded JSON a token may follow ``\n`` directly; the escape's letter does not hide it."""
    text = json.dumps({"content": "line one\nghp_lJf0Dju5aSqdWssjo12ftQyz0HLEvN7TbK47\nline three"})
    assert "TbK47" not in REDACT(text)


def test_a_private_key_cut_short_is_redacted_to_the_end() -> None:
    """A key whose END line was truncated away is still removed."""
    text = "key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4L9nYzQ2Zk"
    assert REDACT(text) == "key:\n[REDACTED:private-key]"


def test_non_ascii_text_keeps_offsets_right() -> None:
    """Characters that change length when lowered do not shift where a secret is cut out."""
    text = "İstanbul İzmir token=Cr8s41mzhwz2CN4xUPtPdZZdd3nc3Rydpc5y ok"
    assert REDACT(text) == "İstanbul İzmir token=[REDACTED:secret] ok"


def test_the_redaction_benchmark_runs_and_finds_every_planted_secret() -> None:
    """``python -m benchmarks.redaction`` prints its timings and exits 0 only when no planted secret survives."""
    from tests.unit.test_benchmark_smoke import run_benchmark  # noqa: PLC0415 - shares the smoke tests' runner

    stdout = run_benchmark("redaction", "--lines", "2000", "--repeat", "1", timeout=60)
    assert "whole text, clean:" in stdout
    assert f"planted secrets surviving: 0 of {len(CORPUS)}" in stdout


def test_two_secrets_of_one_kind_in_a_large_text_are_both_found_after_an_earlier_replacement() -> None:
    """Offsets stay right after a rule replaced something earlier in the text (markers are lower case)."""
    assert all(kind == kind.lower() for kind in KINDS)
    filler = "INFO ok\n" * 1000
    text = f"{CORPUS[0].value}\n{filler}token={CORPUS[-1].value}\n{filler}client_secret={CORPUS[-2].value}"
    redacted = REDACT(text)
    assert redacted.count("[REDACTED:secret]") == 2
    assert redacted.startswith("[REDACTED:slack-token]\nINFO ok")
