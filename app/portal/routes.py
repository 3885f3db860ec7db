"""Every address of the portal side, in one table."""

from aiohttp import web

from app.portal import condition_views, link_views, views


def add_routes(app: web.Application) -> None:
    """Add the portal's routes; tenant paths come last so fixed paths win."""
    app.router.add_get("/", views.home)
    app.router.add_get("/static/tenant/{tenant}/theme.css", views.theme_css)
    app.router.add_get("/static/tenant/{tenant}/logo.png", views.logo)
    app.router.add_get("/favicon.ico", views.static_file)
    app.router.add_get("/static/{name}", views.static_file)
    app.router.add_get("/l/{token}", link_views.open_link)
    app.router.add_get("/l/{link}/formular", link_views.show_link_form)
    app.router.add_post("/l/{link}/formular", link_views.send_link_form)
    app.router.add_post("/l/{link}/pruefen", link_views.answer_check)
    app.router.add_get(
        "/static/tenant/{tenant}/forms/{slug}/{version}/conditions.css",
        condition_views.conditions_stylesheet,
    )
    app.router.add_get("/{tenant}", views.tenant_redirect)
    app.router.add_get("/{tenant}/", views.tenant_index)
    app.router.add_get("/{tenant}/{form}", views.show_form)
    app.router.add_post("/{tenant}/{form}", views.send_form)
