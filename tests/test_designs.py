"""Tenant designs: saving, refusing, previewing, versions and the portal frame."""

import io
import re
import shutil

import aiohttp
import pytest
from PIL import Image

from app.backoffice.designs import DESIGNS
from app.config import ROOT
from app.designs import contrast_ratio, ratio_text
from app.keys import LINK_OFFICE, PORTAL, TENANTS
from app.web import CSP
from tests.admin_helpers import log_in_clerk, page_text, post
from tests.conftest import free_port, run_py
from tests.images import (
    camera_exif,
    jpeg_header,
    pattern,
    png_chunk,
    png_chunk_types,
    png_header,
    save,
)

DESIGN = "/admin/tenants/musterstadt/design"
# The musterstadt theme file, as the edit form sends it back.
MUSTERSTADT = {
    "layout": "classic",
    "primary": "#00557f",
    "on_primary": "#ffffff",
    "accent": "#ffbf47",
    "background": "#ffffff",
    "text": "#0b0c0c",
    "link": "#00557f",
    "logo_alt": "Stadtwerke Musterstadt",
    "imprint_url": "https://www.stadtwerke-musterstadt.example/impressum",
    "privacy_url": "https://www.stadtwerke-musterstadt.example/datenschutz",
    "contact_url": "https://www.stadtwerke-musterstadt.example/kontakt",
    "footer_text": "Stadtwerke Musterstadt GmbH · Am Markt 1 · 12345 Musterstadt",
}
NEW_LOOK = {
    **MUSTERSTADT,
    "layout": "banner",
    "primary": "#5a1e6e",
    "link": "#5a1e6e",
    "imprint_url": "https://neu.example/impressum",
    "contact_url": "mailto:hallo@neu.example",
    "footer_text": "Neue Fußzeile · Hafen 2",
}


def design_form(token: str, values: dict, logo=None, action: str = "save"):
    """Build the edit form's multipart body as a browser sends it."""
    data = aiohttp.FormData()
    data.add_field("csrf_token", token)
    for name, value in {**values, "action": action}.items():
        data.add_field(name, value)
    filename, content = logo or ("", b"")
    data.add_field(
        "logo",
        io.BytesIO(content),
        filename=filename,
        content_type="application/octet-stream",
    )
    return data


async def send_design(client, token, values, logo=None, action="save", path=DESIGN):
    data = design_form(token, values, logo, action)
    return await client.post(path, data=data, allow_redirects=False)


def png_logo(size=(300, 100)) -> bytes:
    return save(pattern(size), "PNG")


def confirmation_mail(client) -> tuple[str, str, str]:
    """Render the receipt mail of musterstadt as the back office writes it."""
    tenant = client.app[TENANTS]["musterstadt"]
    context = {
        "receipt": "R-1",
        "form_title": "T",
        "received_at": "1.1.",
        "summary": [],
    }
    return client.app[LINK_OFFICE].templates.render(tenant, "confirmation", context)


async def version_count(client, tenant: str = "musterstadt") -> int:
    return len(await client.app[DESIGNS].store.versions(tenant))


@pytest.fixture
async def token(client) -> str:
    return await log_in_clerk(client)


# Contrast, after WCAG 2.x.


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#777777", "#ffffff", 4.48),
        ("#767676", "#ffffff", 4.54),
    ],
)
def test_contrast_ratio_follows_wcag(first, second, expected):
    assert round(contrast_ratio(first, second), 2) == expected
    assert round(contrast_ratio(second, first), 2) == expected


def test_a_ratio_just_below_the_limit_is_not_shown_as_the_limit():
    assert ratio_text(4.49) == "4,4:1"


# The first version and saving.


async def test_the_theme_file_is_each_tenants_first_version(client, token):
    page = await page_text(client, f"{DESIGN}/versions")
    [stored] = await client.app[DESIGNS].store.versions("musterstadt")
    assert (stored.version, stored.created_by, stored.note) == (
        1,
        "system",
        "Aus dem Theme-Ordner übernommen",
    )
    assert "Aus dem Theme-Ordner übernommen" in page
    edit = await page_text(client, DESIGN)
    assert 'value="#00557f"' in edit and 'value="classic" checked' in edit


async def test_a_saved_design_changes_the_portal_frame(client, token):
    logo = png_logo((960, 320))
    response = await send_design(client, token, NEW_LOOK, ("logo.png", logo))
    assert response.headers["Location"] == f"{DESIGN}?done=saved"

    page = await page_text(client, "/musterstadt/")
    assert '<header class="header header--banner">' in page
    assert 'href="/static/tenant/musterstadt/theme.css?v=2"' in page
    assert 'src="/static/tenant/musterstadt/logo.png?v=2"' in page
    assert '<a href="https://neu.example/impressum">Impressum</a>' in page
    assert '<a href="mailto:hallo@neu.example">Kontakt</a>' in page
    assert '<p class="footer__text">Neue Fußzeile · Hafen 2</p>' in page
    css = await page_text(client, "/static/tenant/musterstadt/theme.css?v=2")
    assert "--color-primary: #5a1e6e;" in css
    assert "--header-bg: var(--color-primary);" in css
    served = await client.get("/static/tenant/musterstadt/logo.png?v=2")
    with Image.open(io.BytesIO(await served.read())) as image:
        assert (served.content_type, image.format, image.size) == (
            "image/png",
            "PNG",
            (384, 128),
        )


async def test_a_form_page_is_framed_in_the_new_design(client, token):
    before = await page_text(client, "/musterstadt/zaehlerstand")
    await send_design(client, token, NEW_LOOK)
    after = await page_text(client, "/musterstadt/zaehlerstand")
    assert "Neue Fußzeile · Hafen 2" not in before
    assert '<p class="footer__text">Neue Fußzeile · Hafen 2</p>' in after
    assert "theme.css?v=2" in after


async def test_the_logo_loses_its_metadata(client, token):
    photo = save(pattern((200, 100)), "JPEG", exif=camera_exif())
    await send_design(client, token, MUSTERSTADT, ("logo.jpg", photo))
    served = await (await client.get("/static/tenant/musterstadt/logo.png")).read()
    assert png_chunk_types(served) == [b"IHDR", b"IDAT", b"IEND"]
    with Image.open(io.BytesIO(served)) as image:
        assert (image.format, dict(image.getexif())) == ("PNG", {})


@pytest.mark.parametrize(
    ("filename", "kind"),
    [("logo.jpg", "PNG"), ("logo.png", "JPEG"), ("logo", "WEBP")],
)
async def test_a_logo_is_judged_by_its_content_not_its_name(
    client, token, filename, kind
):
    image = save(pattern((120, 40)), kind)
    response = await send_design(client, token, MUSTERSTADT, (filename, image))
    assert response.status == 303
    assert await version_count(client) == 2


async def test_a_design_saved_without_a_new_logo_keeps_the_current_one(client, token):
    first = await (await client.get("/static/tenant/musterstadt/logo.png")).read()
    await send_design(client, token, NEW_LOOK)
    kept = await (await client.get("/static/tenant/musterstadt/logo.png?v=2")).read()
    assert kept == first and first.startswith(b"\x89PNG")


async def test_the_mails_take_the_current_design(client, token):
    await send_design(client, token, NEW_LOOK)
    _, text, html = confirmation_mail(client)
    assert "Neue Fußzeile · Hafen 2" in text
    assert "background:#5a1e6e" in html.replace(" ", "")


# Refusals: each names the field, and nothing is stored.

LOW = "Kontrast {} zwischen {} und {}; nötig sind mindestens 4,5:1."


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"text": "#777777"}, LOW.format("4,4:1", "Schriftfarbe", "Hintergrund")),
        (
            {"on_primary": "#7fa9c0"},
            LOW.format("3,1:1", "Schrift auf der Hauptfarbe", "Hauptfarbe"),
        ),
        ({"link": "#8a8a8a"}, LOW.format("3,4:1", "Linkfarbe", "Hintergrund")),
        (
            {"accent": "#333333"},
            LOW.format("1,5:1", "Schriftfarbe", "Akzentfarbe (Fokus)"),
        ),
        (
            {"text": "red"},
            "Schriftfarbe: Geben Sie die Farbe als #rrggbb an, zum Beispiel #00557f.",
        ),
        (
            {"primary": "#00557f;}body{x:y"},
            "Hauptfarbe: Geben Sie die Farbe als #rrggbb an, zum Beispiel #00557f.",
        ),
        (
            {"imprint_url": "javascript:alert(1)"},
            "Impressum: Erlaubt sind nur Adressen, die mit https:// beginnen.",
        ),
        (
            {"privacy_url": "http://sw.example/datenschutz"},
            "Datenschutz: Erlaubt sind nur Adressen, die mit https:// beginnen.",
        ),
        (
            {"contact_url": "javascript:alert(1)"},
            "Kontakt: Erlaubt sind nur Adressen, die mit https:// oder mailto: "
            "beginnen.",
        ),
        (
            {"contact_url": "mailto:a@b.example?bcc=c@d.example"},
            "Kontakt: Nach mailto: muss genau eine E-Mail-Adresse folgen.",
        ),
        ({"imprint_url": ""}, "Impressum: Geben Sie eine Adresse an."),
        ({"layout": "wild"}, "Kopfbereich: Wählen Sie eine der Anordnungen."),
        ({"footer_text": "x" * 301}, "Fußzeile: Höchstens 300 Zeichen."),
    ],
)
async def test_a_wrong_value_is_refused_with_its_message(
    client, token, changes, message
):
    response = await send_design(client, token, {**MUSTERSTADT, **changes})
    assert response.status == 422
    assert message in await response.text()
    assert await version_count(client) == 1
    assert "theme.css?v=1" in await page_text(client, "/musterstadt/")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
LOGO_REFUSED = (
    "Logo: Erlaubt sind PNG, JPEG und WebP; diese Datei ist keines davon "
    "(SVG und andere Formate werden nicht angenommen)."
)


TOO_MANY = (
    "Logo: Das Bild hat zu viele Pixel; erlaubt sind höchstens 4 Millionen Pixel "
    "und 4000 Pixel je Seite."
)


def claimed_png(width: int, height: int) -> bytes:
    """Return a PNG of a few bytes whose header claims a size past Pillow's limit."""
    return png_header(width, height) + png_chunk(b"IDAT", b"") + png_chunk(b"IEND", b"")


def bomb() -> bytes:
    """Return a small PNG whose header promises 50 million pixels."""
    return save(Image.new("1", (10_000, 5_000)), "PNG")


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("logo.svg", SVG, LOGO_REFUSED),
        ("logo.png", b"Das ist kein Bild, nur Text.", LOGO_REFUSED),
        ("logo.gif", save(pattern(), "GIF"), LOGO_REFUSED),
        (
            "logo.png",
            b"\x89PNG\r\n\x1a\n" + b"kaputt" * 10,
            "Logo: Die Datei ist beschädigt und lässt sich nicht lesen.",
        ),
        (
            "logo.png",
            png_logo() + b"\0" * 600_000,
            "Logo: Die Datei ist größer als 512 kB.",
        ),
        (
            "kopf.png",
            claimed_png(12_000, 12_000),
            TOO_MANY,
        ),
        (
            "kopf.png",
            claimed_png(20_000, 20_000),
            TOO_MANY,
        ),
        (
            "kopf.jpg",
            jpeg_header(5_000, 1_000),
            TOO_MANY,
        ),
        (
            "bombe.png",
            bomb(),
            TOO_MANY,
        ),
    ],
)
async def test_a_wrong_logo_is_refused_with_its_message(
    client, token, filename, content, message
):
    response = await send_design(client, token, MUSTERSTADT, (filename, content))
    assert response.status == 422
    assert message in await response.text()
    assert await version_count(client) == 1


async def test_a_refused_form_keeps_what_the_clerk_typed(client, token):
    values = {**NEW_LOOK, "text": "#777777"}
    page = await (await send_design(client, token, values)).text()
    assert 'value="Neue Fußzeile · Hafen 2"' in page
    assert re.search(r'name="text"\s+value="#777777"', page)


# Versions and restore.


async def test_restoring_an_earlier_version_makes_it_current(client, token):
    await send_design(client, token, NEW_LOOK)
    response = await post(client, f"{DESIGN}/versions/1/restore", token)
    assert response.headers["Location"] == f"{DESIGN}?done=restored"
    versions = await client.app[DESIGNS].store.versions("musterstadt")
    assert [(v.version, v.created_by, v.note) for v in versions] == [
        (3, "anna", "Wiederhergestellt aus Version 1"),
        (2, "anna", "Design geändert"),
        (1, "system", "Aus dem Theme-Ordner übernommen"),
    ]
    page = await page_text(client, "/musterstadt/")
    assert "theme.css?v=3" in page and "Am Markt 1" in page


async def test_a_save_keeps_the_clerks_note(client, token):
    await send_design(client, token, {**NEW_LOOK, "note": "Neues Logo  vom Amt"})
    page = await page_text(client, f"{DESIGN}/versions")
    assert "<td>Neues Logo vom Amt</td>" in page


async def test_restoring_an_unknown_version_is_not_found(client, token):
    response = await post(client, f"{DESIGN}/versions/9/restore", token)
    assert response.status == 404
    assert await version_count(client) == 1


# The preview of an unsaved design.


async def test_a_preview_shows_the_unsaved_design_and_stores_nothing(client, token):
    logo = png_logo()
    response = await send_design(client, token, NEW_LOOK, ("l.png", logo), "preview")
    assert response.headers["Location"] == f"{DESIGN}/preview"

    page = await page_text(client, f"{DESIGN}/preview")
    assert f'href="{DESIGN}/preview/theme.css"' in page
    assert f'src="{DESIGN}/preview/logo.png"' in page
    assert '<p class="footer__text">Neue Fußzeile · Hafen 2</p>' in page
    assert f'href="{DESIGN}/preview/forms/zaehlerstand"' in page
    css = await page_text(client, f"{DESIGN}/preview/theme.css")
    assert "--color-primary: #5a1e6e;" in css
    form = await page_text(client, f"{DESIGN}/preview/forms/zaehlerstand")
    assert "Neue Fußzeile · Hafen 2" in form and "Zählerstand" in form

    assert await version_count(client) == 1
    portal = await page_text(client, "/musterstadt/")
    assert "Neue Fußzeile" not in portal and "theme.css?v=1" in portal


async def test_the_preview_start_page_lists_no_links_only_form(client, token):
    await send_design(client, token, NEW_LOOK, None, "preview")
    page = await page_text(client, f"{DESIGN}/preview")
    real = await page_text(client, "/musterstadt/")
    assert "Auftrag Zählerwechsel" not in page and "Auftrag Zählerwechsel" not in real
    assert "Zählerstand melden" in page


async def test_a_previewed_draft_is_saved_from_the_preview(client, token):
    await send_design(client, token, NEW_LOOK, ("l.png", png_logo()), "preview")
    response = await post(client, f"{DESIGN}/preview/save", token, {"note": "Neu"})
    assert response.headers["Location"] == f"{DESIGN}?done=saved"
    assert await version_count(client) == 2
    assert "Neue Fußzeile · Hafen 2" in await page_text(client, "/musterstadt/")
    gone = await client.get(f"{DESIGN}/preview")
    assert gone.status == 404


async def test_the_edit_form_reopens_with_the_draft(client, token):
    await send_design(client, token, NEW_LOOK, action="preview")
    page = await page_text(client, f"{DESIGN}?draft=1")
    assert 'value="Neue Fußzeile · Hafen 2"' in page
    assert '<input type="hidden" name="logo_from" value="draft">' in page


async def test_a_preview_is_for_the_clerk_who_made_it(client, token):
    await send_design(client, token, NEW_LOOK, action="preview")
    client.session.cookie_jar.clear()
    response = await client.get(f"{DESIGN}/preview", allow_redirects=False)
    assert response.headers["Location"] == "/admin/login"
    await log_in_clerk(client, "bert")
    assert (await client.get(f"{DESIGN}/preview")).status == 404


# Who may change a design.


async def test_a_clerk_of_another_tenant_is_refused(client):
    token = await log_in_clerk(client, "nora", tenants=["nordstadt"])
    for path in ("", "/versions", "/versions/1/logo.png"):
        assert (await client.get(f"{DESIGN}{path}")).status == 404
    response = await send_design(client, token, NEW_LOOK)
    assert response.status == 404
    restore = await post(client, f"{DESIGN}/versions/1/restore", token)
    assert restore.status == 404
    assert await version_count(client) == 1
    listed = await page_text(client, "/admin/design")
    assert "Stadtwerke Nordstadt" in listed and "Musterstadt" not in listed


async def test_a_design_without_the_sessions_token_is_refused(client, token):
    response = await send_design(client, "falsch", NEW_LOOK)
    assert response.status == 403
    assert await version_count(client) == 1


# Escaping: a clerk's text is shown, never run.


async def test_a_footer_with_a_script_is_shown_as_text_everywhere(client, token):
    footer = "<script>alert(1)</script> & {{ 7*7 }}"
    await send_design(client, token, {**MUSTERSTADT, "footer_text": footer})
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; {{ 7*7 }}"
    for path in ("/musterstadt/", DESIGN, "/musterstadt/zaehlerstand"):
        page = await page_text(client, path)
        assert escaped in page and "<script>" not in page and "&amp; 49" not in page
    _, text, html = confirmation_mail(client)
    assert escaped in html and "<script>" not in html
    assert footer in text


async def test_the_portal_keeps_its_design_over_a_restart(aiohttp_client, config):
    from app.application import create_app

    first = await aiohttp_client(create_app(config))
    token = await log_in_clerk(first)
    await send_design(first, token, NEW_LOOK)
    await first.close()
    second = await aiohttp_client(create_app(config))
    assert "theme.css?v=2" in await page_text(second, "/musterstadt/")
    assert second.app[PORTAL].logo("musterstadt").startswith(b"\x89PNG")


async def test_each_version_shows_its_own_logo_to_clerks(client, token):
    first = await page_text(client, f"{DESIGN}/versions")
    await send_design(client, token, MUSTERSTADT, ("l.png", png_logo((90, 30))))
    versions = await page_text(client, f"{DESIGN}/versions")
    old = await (await client.get(f"{DESIGN}/versions/1/logo.png")).read()
    new = await (await client.get(f"{DESIGN}/versions/2/logo.png")).read()
    sizes = [Image.open(io.BytesIO(data)).size for data in (old, new)]
    assert sizes == [(240, 64), (90, 30)]
    assert f'src="{DESIGN}/versions/2/logo.png"' in versions
    assert f'src="{DESIGN}/versions/1/logo.png"' in first
    assert (await client.get(f"{DESIGN}/versions/3/logo.png")).status == 404


def test_a_theme_file_with_unreadable_colours_stops_the_start(tmp_path):
    themes = tmp_path / "themes"
    shutil.copytree(ROOT / "themes", themes)
    path = themes / "nordstadt" / "tenant.yaml"
    text = path.read_text("utf-8").replace('link: "#0a5c35"', 'link: "#999999"')
    path.write_text(text, "utf-8")
    (tmp_path / "config.yaml").write_text(f"themes: {themes}\n", "utf-8")
    data, port = str(tmp_path / "data"), str(free_port())
    config = ["--config", str(tmp_path / "config.yaml"), "--data", data]
    stopped = run_py("serve", *config, "--port", port)
    assert stopped.returncode == 1
    assert stopped.stderr.strip().endswith(
        "cannot start: themes/nordstadt: Kontrast 2,8:1 zwischen Linkfarbe und "
        "Hintergrund; nötig sind mindestens 4,5:1."
    )


async def test_preview_pages_keep_the_strict_csp(client, token):
    await send_design(client, token, NEW_LOOK, action="preview")
    for path in ("/preview", "/preview/forms/zaehlerstand", ""):
        response = await client.get(f"{DESIGN}{path}")
        assert response.headers["Content-Security-Policy"] == CSP
        assert "style=" not in await response.text()
