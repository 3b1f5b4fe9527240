r"""Removing secrets from text before it is logged or shown to a model.

Two layers: the exact values this process knows are secret (its own tokens), and a catalogue of patterns
for the secrets people paste and logs leak. The catalogue follows gitleaks' rule set
(``config/gitleaks.toml``) and Yelp's ``detect-secrets`` plugins; each rule names the rule it follows.
The patterns are written for this code base: they also match inside JSON text (``\"`` quotes, ``\n``
escapes), because tool results are redacted after they are encoded, and they replace only the secret,
so ``password=hunter2`` becomes ``password=[REDACTED:password]``.

Speed: a rule runs only when one of its keywords occurs in the text (gitleaks' ``keywords``), so a
50,000-line log is scanned by the few rules whose keywords it contains (``python -m benchmarks.redaction``).

Ordinary operational text survives: ARNs, instance and request ids, UUIDs, git SHAs, hostnames and metric
names match no rule, and the context rules (``token=…``, ``api_key: …``) redact only values that look
generated (letters and digits), not words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from collections.abc import Set as AbstractSet

__all__ = ["KINDS", "Redactor"]

# Shorter "secrets" would redact ordinary words; real tokens are far longer.
_MIN_SECRET_LEN = 6

# A token starts where no letter or digit precedes it, or right after an escape (``\n``) in JSON text.
_START = r"(?:(?<=\\[nrt])|(?<![A-Za-z0-9]))"
# ``key = value``, ``"key": "value"``, ``key: value``, ``key => value`` and their JSON-escaped forms; a colon
# with neither a quote nor a space after it is ARN or URL syntax (``arn:aws:secretsmanager:…:secret:name``).
_SEP = r"""\\?["']?\s*(?:=>|:=|=|:(?=\s|\\?["']))\s*\\?["']?"""
# A value in an assignment ends at whitespace, a quote, an escape, or a list separator.
_VALUE = r"""(?!\[REDACTED)[^\s"'\\,;&<>`]"""


def _looks_generated(value: str) -> bool:
    """Letters and digits mixed (or a long mixed-case run): a key, not a word like ``expired``."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if has_digit and has_alpha:
        return True
    return len(value) >= 16 and not value.islower() and not value.isupper() and has_alpha  # noqa: PLR2004


@dataclass(frozen=True, slots=True)
class _Rule:
    """One secret format: a pattern tried where one of its keywords starts; its ``secret`` group is replaced.

    Every pattern starts with one of its keywords, so the text is searched with ``str.find`` for the
    keywords (fast, whatever the text's size) and the pattern is only tried at those places.
    """

    kind: str
    keywords: tuple[str, ...]  # as written for a case-sensitive pattern, else in lower case
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None

    @property
    def cased(self) -> bool:
        """Whether the pattern is case-sensitive (its keywords are then looked for as written)."""
        return not self.pattern.flags & re.IGNORECASE

    def spans(self, text: str, lowered: str, present: AbstractSet[str]) -> list[tuple[int, int]]:
        """Where the secrets of this format are in ``text`` (``lowered`` is its lower-case copy).

        ``present`` holds the keywords known to occur; the others are not looked for again.
        """
        haystack = text if self.cased else lowered
        starts: set[int] = set()
        for keyword in self.keywords:
            if keyword not in present:
                continue
            at = haystack.find(keyword)
            while at != -1:
                starts.add(at)
                at = haystack.find(keyword, at + 1)
        found: list[tuple[int, int]] = []
        covered = 0
        for at in sorted(starts):
            if at < covered:
                continue
            match = self.pattern.match(text, at)
            if match is None or (self.accept is not None and not self.accept(match.group("secret"))):
                continue
            found.append(match.span("secret"))
            covered = match.end()
        return found


def _rule(
    kind: str, keywords: Iterable[str], pattern: str, *, flags: int = 0, accept: Callable[[str], bool] | None = None
) -> _Rule:
    compiled = re.compile(pattern, flags)
    folded = bool(compiled.flags & re.IGNORECASE)
    return _Rule(kind, tuple(k.lower() if folded else k for k in keywords), compiled, accept)


def _token(kind: str, keywords: Iterable[str], body: str, *, flags: int = 0) -> _Rule:
    """A self-identifying token (a fixed prefix, not glued to a word before it): the whole match is the secret."""
    return _rule(kind, keywords, rf"{_START}(?P<secret>{body})", flags=flags)


def _assignment(
    kind: str, keywords: Iterable[str], key: str, value: str, *, accept: Callable[[str], bool] | None = None
) -> _Rule:
    """A secret known by its name: ``<key…> = <value>``; only the value is replaced."""
    return _rule(
        kind, keywords, rf"(?:{key})[\w.-]{{0,24}}?{_SEP}(?P<secret>{value})", flags=re.IGNORECASE, accept=accept
    )


# Order matters: multi-line blocks and specific formats first, so a generic rule never sees a known token.
_RULES: tuple[_Rule, ...] = (
    # gitleaks private-key; detect-secrets PrivateKeyDetector. An unterminated key is redacted to the end.
    _rule(
        "private-key",
        ["-----BEGIN"],
        r"(?P<secret>-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\Z))",
        flags=re.DOTALL,
    ),
    # gitleaks slack-webhook-url
    _rule(
        "slack-webhook",
        ["hooks.slack.com"],
        r"(?P<secret>hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,})",
    ),
    # gitleaks slack-bot-token, slack-user-token, slack-legacy-*; detect-secrets SlackDetector
    _token("slack-token", ["xox"], r"xox[abposre]-[A-Za-z0-9-]{10,}"),
    # gitleaks slack-app-token, slack-config-access-token
    _token("slack-app-token", ["xapp-"], r"xapp-\d-[A-Za-z0-9-]{10,}"),
    # gitleaks github-pat, github-oauth, github-app-token, github-refresh-token; detect-secrets GitHubTokenDetector
    _token("github-token", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], r"gh[pousr]_[A-Za-z0-9]{30,255}"),
    # gitleaks github-fine-grained-pat
    _token("github-token", ["github_pat_"], r"github_pat_\w{40,255}"),
    # gitleaks gitlab-pat, gitlab-pat-routable and the other gitlab-* prefixes; detect-secrets GitLabTokenDetector
    _token(
        "gitlab-token",
        ["glpat-", "glptt-", "gldt-", "glrt-", "glcbt-", "glsoat-", "glft-", "glimt-", "glagent-", "gloas-"],
        r"gl(?:pat|ptt|dt|rt|cbt|soat|ft|imt|agent|oas)-[\w-]{20,300}(?:\.[0-9a-z]{2}[0-9a-z]{7})?",
    ),
    # gitleaks stripe-access-token; detect-secrets StripeDetector (secret and restricted keys, any mode)
    _token(
        "stripe-key",
        ["sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"],
        r"[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,255}",
    ),
    # Stripe webhook signing secrets (gitleaks has none; the prefix is Stripe's documented one)
    _token("stripe-key", ["whsec_"], r"whsec_[A-Za-z0-9+/=]{24,}"),
    # gitleaks gcp-api-key
    _token("google-api-key", ["AIza"], r"AIza[\w-]{35}"),
    # gitleaks anthropic-api-key, anthropic-admin-api-key (any sk-ant- key kind)
    _token("anthropic-key", ["sk-ant-"], r"sk-ant-[a-z0-9]{2,12}-[\w-]{20,}"),
    # gitleaks openai-api-key; detect-secrets OpenAIDetector: project, service-account, admin and legacy keys
    _token("openai-key", ["sk-proj-", "sk-svcacct-", "sk-admin-"], r"sk-(?:proj|svcacct|admin)-[\w-]{20,}"),
    _token("openai-key", ["sk-"], r"sk-[A-Za-z0-9]{32,}"),
    # gitleaks jwt; detect-secrets JwtTokenDetector (header and payload are base64url JSON: "ey…")
    _token("jwt", ["eyJ"], r"ey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),
    # gitleaks npm-access-token; detect-secrets NpmDetector
    _token("npm-token", ["npm_"], r"npm_[A-Za-z0-9]{36}"),
    # gitleaks pypi-upload-token; detect-secrets PypiTokenDetector
    _token("pypi-token", ["pypi-AgEIcHlwaS5vcmc"], r"pypi-AgEIcHlwaS5vcmc[\w-]{50,}"),
    # gitleaks sendgrid-api-token; detect-secrets SendGridDetector
    _token("sendgrid-key", ["SG."], r"SG\.[\w-]{16,32}\.[\w-]{16,64}"),
    # gitleaks twilio-api-key; detect-secrets TwilioKeyDetector (API key SID and account SID)
    _token("twilio-key", ["SK", "AC"], r"(?:SK|AC)[0-9a-f]{32}"),
    # gitleaks hashicorp-tf-api-token's sibling vault-service-token; detect-secrets HashiCorpVaultTokenDetector
    _token("vault-token", ["hvs.", "hvb."], r"hv[sb]\.[\w-]{24,}"),
    # gitleaks huggingface-access-token
    _token("huggingface-token", ["hf_"], r"hf_[A-Za-z]{34}"),
    # gitleaks digitalocean-pat, digitalocean-access-token, digitalocean-refresh-token
    _token("digitalocean-token", ["dop_v1_", "doo_v1_", "dor_v1_"], r"do[por]_v1_[a-f0-9]{64}"),
    # gitleaks shopify-access-token, -custom-access-token, -private-app-access-token, -shared-secret
    _token("shopify-token", ["shpat_", "shpca_", "shppa_", "shpss_"], r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    # gitleaks aws-access-token (and the IAM unique-id prefixes detect-secrets AWSKeyDetector also covers)
    _token(
        "aws-key-id",
        ["AKIA", "ASIA", "ABIA", "ACCA", "A3T", "AIDA", "AROA"],
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}",
    ),
    # STS session tokens, recognisable by their base64 prefix even without a name
    _token(
        "aws-session-token",
        ["IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdz", "FQoGZXIvYXdz"],
        r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+=]{20,}",
    ),
    # detect-secrets AWSKeyDetector's secret-key context; aws_session_token, SecretAccessKey, SessionToken
    _assignment(
        "aws-secret",
        ["secret", "session"],
        r"secret[_.-]?(?:access[_.-]?)?key|session[_.-]?token",
        r"[A-Za-z0-9/+=]{16,}",
    ),
    # detect-secrets AzureStorageKeyDetector (AccountKey=); Service Bus / Event Hubs SharedAccessKey=
    _assignment(
        "azure-storage-key",
        ["accountkey", "sharedaccesskey"],
        r"account[_-]?key|sharedaccesskey",
        r"[A-Za-z0-9+/]{40,}={0,2}",
    ),
    # Azure SAS tokens in URLs (sig=…)
    _rule("azure-sas", ["sig="], r"(?<=[?&])sig=(?P<secret>[A-Za-z0-9%+/=]{20,})"),
    # gitleaks datadog-access-token (40 hex after "datadog"); DD_API_KEY (32 hex) and DD_APP_KEY (40 hex)
    _assignment(
        "datadog-key",
        ["datadog", "dd_", "dd-", "dd."],
        r"(?:datadog|dd[_.-])[\w.-]{0,20}?(?:api|app|application|access)[_.-]?key|datadog[_.-]?token",
        r"[a-f0-9]{32,40}",
    ),
    # Twilio's auth token is 32 hex with no prefix: only its name shows it
    _assignment("twilio-key", ["twilio"], r"twilio[\w.-]{0,20}?(?:auth[_.-]?)?token", r"[a-f0-9]{32}"),
    # gitleaks curl-auth-header; detect-secrets BasicAuthDetector: Authorization headers of any scheme
    _rule(
        "auth-header",
        ["authorization"],
        rf"(?i)authorization{_SEP}(?:(?:bearer|basic|token|digest|apikey|sso-key|negotiate)\s+)?"
        rf"(?P<secret>{_VALUE}{{6,}})",
    ),
    # a bearer token anywhere else (curl -H 'Bearer …', configuration files)
    _rule("bearer", ["bearer"], r"(?i)(?<![\w-])bearer\s+(?P<secret>(?!\[REDACTED)[A-Za-z0-9._~+/-]{8,}=*)"),
    # detect-secrets BasicAuthDetector: credentials in URLs, with or without a user name (redis://:pw@host)
    _rule("url-password", ["://"], r"://[^/\s:@\"'\\]*:(?P<secret>[^@/\s\"'\\]+)@"),
    # detect-secrets KeywordDetector (password family): any value of three characters or more
    _assignment(
        "password",
        ["passw", "pwd", "passphrase"],
        r"passw(?:or)?d|pwd|passphrase",
        rf"{_VALUE}{{3,}}",
    ),
    # gitleaks generic-api-key; detect-secrets KeywordDetector: secret-named assignments of generated values
    _assignment(
        "secret",
        [
            "secret",
            "token",
            "credential",
            "auth",
            "apikey",
            "api",
            "app",
            "access",
            "private",
            "client",
            "signing",
            "encryption",
            "master",
            "service",
            "consumer",
            "license",
            "webhook",
        ],
        r"secret|token|credentials?|auth|(?:api|app|application|access|private|client|signing|encryption|master|"
        r"service|consumer|license|webhook)[_.-]?key|apikey",
        rf"{_VALUE}{{8,}}",
        accept=_looks_generated,
    ),
)

_CASED_KEYWORDS = frozenset(keyword for rule in _RULES if rule.cased for keyword in rule.keywords)
_FOLDED_KEYWORDS = frozenset(keyword for rule in _RULES if not rule.cased for keyword in rule.keywords)

KINDS: frozenset[str] = frozenset(rule.kind for rule in _RULES)
"""Every ``<kind>`` a ``[REDACTED:<kind>]`` marker can carry."""


class Redactor:
    """Replaces known secret values and secret-looking strings with ``[REDACTED…]`` markers.

    A known value becomes ``[REDACTED]``; a pattern match becomes ``[REDACTED:<kind>]`` (see :data:`KINDS`).
    """

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known = tuple(sorted({s for s in known_secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, "[REDACTED]")
        lowered = _lower(text)
        cased = {keyword for keyword in _CASED_KEYWORDS if keyword in text}
        folded = {keyword for keyword in _FOLDED_KEYWORDS if keyword in lowered}
        if not cased and not folded:
            return text
        for rule in _RULES:
            present = cased if rule.cased else folded
            if present.isdisjoint(rule.keywords):
                continue
            spans = rule.spans(text, lowered, present)
            if spans:
                marker = f"[REDACTED:{rule.kind}]"
                text = _replace(text, spans, marker)
                lowered = _replace(lowered, spans, marker)  # kinds are lower case: the copies stay aligned
        return text


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """``text`` in lower case, position for position (rules map offsets found in it back to ``text``)."""
    lowered = text.lower()
    # A few characters lower to two ("İ"); only then pay for the ASCII-only, length-keeping translation.
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _replace(text: str, spans: list[tuple[int, int]], marker: str) -> str:
    parts: list[str] = []
    done = 0
    for start, end in spans:
        parts += (text[done:start], marker)
        done = end
    parts.append(text[done:])
    return "".join(parts)
