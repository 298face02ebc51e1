"""Building and starting the aiokafka producer: TLS, SASL, and idempotence where the broker has it."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

from .settings import KafkaSettings

INSTALL_HINT = "the kafka sink needs aiokafka: pip install 'event-gateway[kafka]'"


class KafkaSinkError(Exception):
    """A delivery failure worth one clear sentence (the core logs it and retries)."""


def _ssl_context(s: KafkaSettings, config_dir: Path) -> ssl.SSLContext:
    def path(name: str | None) -> str | None:
        return None if name is None else str(config_dir / name)

    context = ssl.create_default_context(cafile=path(s.ssl_cafile))
    context.check_hostname = s.ssl_check_hostname
    if s.ssl_certfile is not None:
        context.load_cert_chain(path(s.ssl_certfile) or "", path(s.ssl_keyfile), s.ssl_password)
    return context


def producer_options(s: KafkaSettings, config_dir: Path) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": list(s.bootstrap_servers),
        "client_id": s.client_id,
        "acks": s.acks,
        "compression_type": None if s.compression_type == "none" else s.compression_type,
        "linger_ms": s.linger_ms,
        "max_batch_size": s.max_batch_size,
        "max_request_size": s.max_request_size,
        "request_timeout_ms": s.request_timeout_ms,
        "security_protocol": s.security_protocol,
    }
    if s.uses_ssl:
        options["ssl_context"] = _ssl_context(s, config_dir)
    if s.uses_sasl:
        options.update(sasl_mechanism=s.sasl_mechanism, sasl_plain_username=s.sasl_plain_username,
                       sasl_plain_password=s.sasl_plain_password)
    return options


async def _started(producer: Any) -> Any:
    try:
        await producer.start()
    except KeyError as exc:
        # aiokafka's SCRAM exchange reads the server's final message without checking for an
        # error in it: a refused login surfaces as a missing key.
        await producer.stop()
        raise KafkaSinkError(f"SASL authentication refused by the broker (no {exc} in its answer)") from None
    except BaseException:
        await producer.stop()
        raise
    return producer


async def start_producer(s: KafkaSettings, config_dir: Path, logger: logging.Logger) -> tuple[Any, bool]:
    """A started producer and whether it is idempotent.

    With ``enable_idempotence = "auto"`` a broker that answers the producer-id request with an
    error (some Kafka-compatible brokers do not implement it) gets a plain producer and a warning;
    a broker that cannot be reached or refuses the credentials is a failure either way.
    """
    try:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaConnectionError, KafkaError
    except ImportError:
        raise KafkaSinkError(INSTALL_HINT) from None
    options = producer_options(s, config_dir)
    idempotent = s.enable_idempotence is not False and s.acks == "all"
    try:
        return await _started(AIOKafkaProducer(enable_idempotence=idempotent, **options)), idempotent
    except KafkaError as exc:
        if not (idempotent and s.enable_idempotence == "auto") or isinstance(exc, KafkaConnectionError):
            raise
        logger.warning("the broker refused an idempotent producer (%s: %s); producing without idempotence",
                       type(exc).__name__, exc)
    return await _started(AIOKafkaProducer(enable_idempotence=False, **options)), False
