"""Every address of MODWORK's API, in one table."""

from aiohttp import web

from app.api import views


def add_routes(app: web.Application) -> None:
    """Add the API's routes under /api/v1."""
    app.router.add_get("/api/v1/openapi.json", views.openapi)
    app.router.add_get("/api/v1/submissions", views.list_submissions)
    app.router.add_get("/api/v1/submissions/{id}", views.get_submission)
    app.router.add_get("/api/v1/submissions/{id}/files/{file_id}", views.get_file)
    app.router.add_post("/api/v1/submissions/{id}/ack", views.acknowledge)
    app.router.add_post("/api/v1/forms", views.push_form)
