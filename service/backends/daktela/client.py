"""HTTP client of Daktela's REST API v6 (campaign records). Knows nothing of the database.

One `requests.Session` per client (keep-alive, a pooled connection per
concurrent caller), a timeout on every call, the token in the X-AUTH-TOKEN
header only, and every response validated before use. Failures become
`DaktelaError` subclasses whose messages are safe to store and show: they
never contain the token.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping, Optional
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from service import metrics
from service.backends.base import ProviderError

RECORDS_PATH = "/api/v6/campaignsRecords"
MAX_RETRY_AFTER_SECONDS = 3600.0
_DUPLICATE_WORDS = ("exist", "unique", "duplicate", "already", "taken", "used")


class DaktelaError(ProviderError):
    """A failed call; `str()` is safe to store and show."""

    transient = True

    def __init__(self, message: str, status: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class DaktelaTransientError(DaktelaError):
    """Worth retrying: timeouts, connection errors, 429, 5xx, 401/403, unreadable bodies."""


class DaktelaValidationError(DaktelaError):
    """Daktela refused the record; retrying the same request cannot help."""

    transient = False


class DaktelaDuplicateNameError(DaktelaValidationError):
    """A record with this name exists already (an earlier attempt created it)."""


class DaktelaNotFoundError(DaktelaError):
    transient = False


def readable_error(error: Any) -> str:
    """Daktela's `error` value (list, string or {primary, form}) as one line."""
    if error is None or error == [] or error == {}:
        return ""
    if isinstance(error, str):
        return error
    if isinstance(error, list):
        return "; ".join(filter(None, (readable_error(item) for item in error)))
    if isinstance(error, dict):
        parts = []
        if "primary" in error:
            parts.append(readable_error(error["primary"]))
        form = error.get("form")
        if isinstance(form, dict):
            parts += [f"{field}: {readable_error(value)}" for field, value in form.items()]
        elif form:
            parts.append(readable_error(form))
        other = {k: v for k, v in error.items() if k not in ("primary", "form")}
        parts += [f"{field}: {readable_error(value)}" for field, value in other.items()]
        return "; ".join(filter(None, parts))
    return str(error)


def _form_errors(error: Any) -> dict:
    if isinstance(error, dict) and isinstance(error.get("form"), dict):
        return error["form"]
    return {}


def _readable_violations(violations: Any) -> str:
    """A validator's `violations` list ({propertyPath, message}) as one line."""
    if not isinstance(violations, list):
        return ""
    parts = [f"{item.get('propertyPath') or 'record'}: {readable_error(item.get('message'))}"
             for item in violations if isinstance(item, dict) and item.get("message")]
    return "; ".join(parts)


def _is_duplicate_name(error: Any) -> bool:
    name_error = _form_errors(error).get("name")
    if name_error is None:
        return False
    text = readable_error(name_error).lower()
    return any(word in text for word in _DUPLICATE_WORDS)


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a Retry-After header (seconds or an HTTP date), bounded."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class Envelope:
    result: Any
    time: Optional[str]


def parse_envelope(response: requests.Response) -> Envelope:
    """The validated body of a 2xx answer, or the DaktelaError its status means."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = None
    error = body.get("error") if body else None
    detail = readable_error(error) or _readable_violations(body.get("violations") if body else None)
    if 200 <= status < 300:
        if body is None or "result" not in body:
            raise DaktelaTransientError(f"Daktela answered {status} with an unreadable body.", status)
        if detail:
            raise DaktelaTransientError(f"Daktela answered {status} with an error: {detail}", status)
        return Envelope(result=body["result"], time=body.get("_time") if isinstance(body.get("_time"), str) else None)
    if status == 429:
        raise DaktelaTransientError(
            "Daktela is rate limiting requests (429).", status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        raise DaktelaTransientError(
            f"Daktela refused the access token ({status}); check DAKTELA_ACCESS_TOKEN.", status
        )
    if status == 404:
        raise DaktelaNotFoundError(f"Daktela has no such record (404). {detail}".strip(), status)
    if status >= 500 or body is None:
        raise DaktelaTransientError(f"Daktela answered {status}. {detail}".strip(), status)
    if not detail:
        # A 4xx without a readable reason may hide "name already exists": only a
        # refusal Daktela explains is taken as final.
        raise DaktelaTransientError(f"Daktela answered {status} without a readable reason.", status)
    if _is_duplicate_name(error):
        raise DaktelaDuplicateNameError(f"Daktela: {detail}", status)
    raise DaktelaValidationError(f"Daktela refused the record ({status}): {detail}", status)


def outcome_of(error: DaktelaError) -> str:
    """How a failed request is counted in dialer_daktela_requests_total."""
    if isinstance(error, DaktelaDuplicateNameError):
        return "duplicate_name"
    if isinstance(error, DaktelaValidationError):
        return "refused"
    if isinstance(error, DaktelaNotFoundError):
        return "not_found"
    if error.status in (401, 403):
        return "unauthorized"
    if error.status == 429:
        return "rate_limited"
    if error.status is not None and error.status >= 500:
        return "server_error"
    return "unreadable"


class DaktelaClient:
    def __init__(self, base_url: str, access_token: str, timeout: float, pool_size: int = 8):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"X-AUTH-TOKEN": access_token, "Accept": "application/json"})

    def _request(self, operation: str, method: str, path: str, check: Callable[[Envelope], Envelope],
                 **kwargs: Any) -> Envelope:
        """The checked answer to one request, counted (dialer_daktela_requests_total) by `operation` and outcome."""
        started, outcome = time.perf_counter(), "ok"
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            return check(parse_envelope(response))
        except requests.Timeout:
            outcome = "timeout"
            raise DaktelaTransientError(f"Daktela did not answer within {self.timeout:g} s.") from None
        except requests.RequestException as exc:
            outcome = "unreachable"
            raise DaktelaTransientError(f"Could not reach Daktela ({type(exc).__name__}).") from None
        except DaktelaError as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            metrics.daktela_request(operation, outcome, time.perf_counter() - started)

    def create_record(self, payload: Mapping[str, Any]) -> Envelope:
        return self._request("create_record", "POST", f"{RECORDS_PATH}.json", self._checked_record,
                             json=dict(payload))

    def read_record(self, name: str) -> Envelope:
        return self._request("read_record", "GET", f"{RECORDS_PATH}/{quote(name, safe='')}.json",
                             self._checked_record)

    def delete_record(self, name: str) -> None:
        """DELETE the record (204); a record Daktela does not hold (404) counts as deleted."""
        path = f"{RECORDS_PATH}/{quote(name, safe='')}.json"
        try:
            response = self.session.request("DELETE", self.base_url + path, timeout=self.timeout)
        except requests.Timeout:
            raise DaktelaTransientError(f"Daktela did not answer within {self.timeout:g} s.") from None
        except requests.RequestException as exc:
            raise DaktelaTransientError(f"Could not reach Daktela ({type(exc).__name__}).") from None
        if response.status_code in (200, 204):
            return
        try:
            parse_envelope(response)
        except DaktelaNotFoundError:
            return

    def list_records(self, params: Mapping[str, Any]) -> Envelope:
        return self._request("list_records", "GET", f"{RECORDS_PATH}.json", self._checked_list,
                             params=dict(params))

    @staticmethod
    def _checked_list(envelope: Envelope) -> Envelope:
        result = envelope.result
        data = result.get("data") if isinstance(result, dict) else None
        if isinstance(data, dict):
            data = list(data.values())
        if not isinstance(data, list):
            raise DaktelaTransientError("Daktela answered a list request without result.data.")
        return Envelope(result={"data": [r for r in data if isinstance(r, dict)], "total": result.get("total")},
                        time=envelope.time)

    @staticmethod
    def _checked_record(envelope: Envelope) -> Envelope:
        record = envelope.result
        if not isinstance(record, dict) or not isinstance(record.get("name"), str):
            raise DaktelaTransientError("Daktela answered without a record name.")
        return envelope
