"""The aiohttp face of the admin report: `GET /admin/report`, read through the HTTP
boundary (no body) and answered by `AdminReport`."""

from aiohttp import web

from bot.http.aiohttp_adapter import aiohttp_response, http_request
from bot.report.admin import PATH, AdminReport

REPORT_KEY = web.AppKey("admin_report", AdminReport)


def add_report_routes(app: web.Application, report: AdminReport) -> None:
    app[REPORT_KEY] = report
    app.router.add_get(PATH, _show)


async def _show(request: web.Request) -> web.StreamResponse:
    report = request.app[REPORT_KEY]
    return aiohttp_response(await report.show(await http_request(request, max_body=0)))
