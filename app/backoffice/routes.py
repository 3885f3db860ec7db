"""Every address of the built-in back office, in one table."""

from aiohttp import web

from app.backoffice import design_views, form_views, link_views, preview, views


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
    app.router.add_get("/admin/records/{id}/query", link_views.new_query_page)
    app.router.add_post("/admin/records/{id}/query", link_views.create_query)
    app.router.add_get("/admin/orders/new", link_views.new_order_page)
    app.router.add_post("/admin/orders/new", link_views.create_order_view)
    app.router.add_get("/admin/links", link_views.links_page)
    app.router.add_get("/admin/links/new", link_views.new_link_page)
    app.router.add_post("/admin/links/new", link_views.create_link)
    app.router.add_get("/admin/links/{id}", link_views.link_page)
    app.router.add_post("/admin/links/{id}/revoke", link_views.revoke_link)
    app.router.add_post("/admin/links/{id}/resend", link_views.resend_link)

    forms, one = form_views, "/admin/forms/{tenant}/{slug}"
    app.router.add_get("/admin/forms", forms.forms_list)
    app.router.add_get("/admin/forms/new", forms.new_form_page)
    app.router.add_post("/admin/forms/new", forms.create_form)
    app.router.add_get(one, forms.form_page)
    app.router.add_get(f"{one}/edit", forms.editor_page)
    app.router.add_post(f"{one}/edit", forms.save_draft)
    app.router.add_post(f"{one}/publish", forms.publish)
    app.router.add_post(f"{one}/end", forms.end)
    app.router.add_post(f"{one}/delete", forms.delete)
    app.router.add_post(f"{one}/undelete", forms.undelete)
    app.router.add_get(f"{one}/compare", forms.compare_page)
    app.router.add_get(f"{one}/preview", preview.preview_page)
    app.router.add_post(f"{one}/preview/{{version}}", preview.preview_send)
    app.router.add_get(
        f"{one}/preview/{{version}}/conditions.css", preview.preview_conditions
    )
    app.router.add_get(f"{one}/versions/{{version}}", forms.version_page)
    app.router.add_post(f"{one}/versions/{{version}}/restore", forms.restore_version)

    design, one = design_views, "/admin/tenants/{tenant}/design"
    app.router.add_get("/admin/design", design.designs_list)
    app.router.add_get(one, design.edit_page)
    app.router.add_post(one, design.submit)
    app.router.add_get(f"{one}/preview", design.preview_start)
    app.router.add_get(f"{one}/preview/theme.css", design.preview_css)
    app.router.add_get(f"{one}/preview/logo.png", design.preview_logo)
    app.router.add_get(f"{one}/preview/forms/{{slug}}", design.preview_form)
    app.router.add_post(f"{one}/preview/save", design.save_draft)
    app.router.add_get(f"{one}/versions", design.versions_page)
    app.router.add_get(f"{one}/versions/{{version}}/logo.png", design.version_logo)
    app.router.add_post(f"{one}/versions/{{version}}/restore", design.restore)
