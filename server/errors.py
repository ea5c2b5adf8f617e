"""Error responses: every client mistake gets a 4xx with a message naming the value and the fix."""

import json
import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


def _describe(error: dict) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    kind = error.get("type", "")
    if kind == "missing":
        return f"missing required field '{location}'"
    if kind == "extra_forbidden":
        return f"unknown field '{location}': remove it (check the spelling against /docs)"
    return f"invalid value for '{location}': {error.get('msg', 'invalid')}"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    json_errors = [e for e in errors if e.get("type") == "json_invalid"]
    if json_errors:
        context = json_errors[0].get("ctx", {})
        detail = f"Malformed JSON body: {context.get('error', 'cannot be parsed')}. Send a valid JSON object."
        return JSONResponse(status_code=status.HTTP_400_BAD_REQUEST, content={"detail": detail})

    detail = "; ".join(_describe(e) for e in errors)
    safe_errors = json.loads(json.dumps(
        [{"loc": e.get("loc"), "type": e.get("type"), "msg": e.get("msg")} for e in errors], default=str,
    ))
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": f"Invalid request: {detail}.", "errors": safe_errors},
    )


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "Internal server error; the server log has the details."},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
