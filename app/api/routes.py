"""Every address of MODWORK's API, in one table."""

from aiohttp import web

from app.api import forms, links, views


def add_routes(app: web.Application) -> None:
    """Add the API's routes under /api/v1."""
    app.router.add_get("/api/v1/openapi.json", views.openapi)
    app.router.add_get("/api/v1/submissions", views.list_submissions)
    app.router.add_get("/api/v1/submissions/{id}", views.get_submission)
    app.router.add_get("/api/v1/submissions/{id}/files/{file_id}", views.get_file)
    app.router.add_post("/api/v1/submissions/{id}/ack", views.acknowledge)
    app.router.add_post("/api/v1/forms", views.push_form)
    app.router.add_delete("/api/v1/forms/{slug}", forms.delete_form)
    app.router.add_post("/api/v1/forms/{slug}/restore", forms.undelete_form)
    app.router.add_get("/api/v1/forms/{slug}/versions", forms.list_versions)
    app.router.add_get("/api/v1/forms/{slug}/versions/{version}", forms.get_version)
    app.router.add_post(
        "/api/v1/forms/{slug}/versions/{version}/restore", forms.restore_version
    )
    app.router.add_post(
        "/api/v1/forms/{slug}/versions/{version}/publish", forms.publish_version
    )
    app.router.add_post("/api/v1/links", links.create_link)
    app.router.add_post("/api/v1/queries", links.create_query)
    app.router.add_post("/api/v1/orders", links.create_order_link)
    app.router.add_get("/api/v1/links/{id}", links.get_link)
    app.router.add_post("/api/v1/links/{id}/revoke", links.revoke_link)
    app.router.add_post("/api/v1/links/{id}/resend", links.resend_link)
