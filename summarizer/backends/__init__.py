"""Backends: everything model-specific, behind one protocol
(:class:`~summarizer.backends.base.Backend`).

:func:`backend_for` picks the implementation a :class:`~summarizer.settings.Settings`
names; :class:`~summarizer.backends.function.FunctionBackend` is built by hand (in
tests). The implementations are imported only when one is built, so code that
never calls a model never imports an SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from summarizer.backends.base import Backend, CallStats, Composer, Messages, Mode, Throttle

if TYPE_CHECKING:
    import httpx

    from summarizer.settings import Settings

__all__ = ["Backend", "CallStats", "Composer", "Messages", "Mode", "Throttle", "backend_for"]


def backend_for(
    settings: Settings,
    *,
    http_client: httpx.Client | None = None,
    async_http_client: httpx.AsyncClient | None = None,
    throttle: Throttle | None = None,
) -> Backend:
    """The backend for ``settings.model``: a no-model method for ``rules`` and
    ``baseline/NAME``,
    the embedded model for ``local[:path]``, else an OpenAI-compatible endpoint. HTTP
    clients and the throttle apply to the latter only."""
    if settings.model_ref.provider in ("baseline", "rules"):
        from summarizer.backends.extractive import ExtractiveBackend

        return ExtractiveBackend(settings)
    if settings.model_ref.is_local:
        from summarizer.backends.local import LocalBackend

        return LocalBackend(settings)
    from summarizer.backends.openai import OpenAIBackend

    return OpenAIBackend(
        settings,
        http_client=http_client,
        async_http_client=async_http_client,
        throttle=throttle,
    )
