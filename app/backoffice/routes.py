"""Every address of the built-in back office, in one table."""

from aiohttp import web

from app.backoffice import views


def add_routes(app: web.Application) -> None:
    """Add the back office's routes under /admin."""
    app.router.add_get("/admin", views.admin_home)
    app.router.add_get("/admin/", views.admin_home)
    app.router.add_get("/admin/login", views.login_page)
    app.router.add_post("/admin/login", views.login)
    app.router.add_post("/admin/logout", views.logout)
    app.router.add_get("/admin/setup/{token}", views.setup_page)
    app.router.add_post("/admin/setup/{token}", views.setup)
    app.router.add_get("/admin/records", views.records)
    app.router.add_get("/admin/records/{id}", views.record)
    app.router.add_post("/admin/records/{id}/status", views.set_status)
    app.router.add_get("/admin/records/{id}/attachments/{attachment}", views.attachment)
