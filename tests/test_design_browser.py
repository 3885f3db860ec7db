"""A clerk changes a tenant's colours and logo in a real browser."""

from PIL import Image

from tests.images import save


def frame(tab) -> dict:
    """Return what the visitor sees of the frame: colours and the logo."""
    return tab.evaluate(
        """() => {
          const header = getComputedStyle(document.querySelector("header"));
          const logo = document.querySelector(".header__logo");
          return {
            header: header.backgroundColor,
            name: getComputedStyle(document.querySelector(".header__name")).color,
            logo: [logo.naturalWidth, logo.naturalHeight],
            footer: document.querySelector(".footer__text").textContent,
          };
        }"""
    )


def test_a_clerk_previews_and_saves_new_colours_and_a_logo(page):
    # An orange square logo, which the server scales to the header's 128 px.
    logo = save(Image.new("RGB", (400, 400), (230, 120, 20)), "JPEG")
    page.goto("/admin/design")
    page.click("text=Stadtwerke Musterstadt GmbH")
    page.check("#f-layout-banner")
    page.fill("#f-primary", "#5a1e6e")
    page.fill("#f-link", "#5a1e6e")
    page.fill("#f-footer_text", "Neue Fußzeile")
    page.set_input_files(
        "#f-logo", {"name": "logo.jpg", "mimeType": "image/jpeg", "buffer": logo}
    )
    page.click("button[value=preview]")
    page.wait_for_url("**/design/preview")
    page.wait_for_load_state("load")
    preview = frame(page)

    page.goto("/musterstadt/")
    before = frame(page)
    page.goto("/admin/tenants/musterstadt/design/preview")
    page.click("text=Design speichern")
    page.wait_for_url("**/design?done=saved")
    success = page.locator(".alert--success").inner_text()
    page.goto("/musterstadt/")
    after = frame(page)

    expected = {
        "header": "rgb(90, 30, 110)",
        "name": "rgb(255, 255, 255)",
        "logo": [128, 128],
        "footer": "Neue Fußzeile",
    }
    assert preview == expected and after == expected
    assert before["header"] == "rgb(255, 255, 255)"
    assert before["footer"] != "Neue Fußzeile"
    assert success == "Das Design ist gespeichert und im Portal zu sehen."
