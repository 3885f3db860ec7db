"""Render every page template with jinja2 and check the HTML it produces."""

import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
THEMES = ROOT / "themes"
STATIC = ROOT / "app" / "static"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
CONTROLS = {"input", "select", "textarea"}
CSRF = "csrf-0123456789"

# StrictUndefined: a template that reads a name outside its documented
# context fails here instead of rendering an empty string in production.
env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(ROOT / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


class Node:
    """One element of a parsed page."""

    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children = tag, dict(attrs), []

    def walk(self):
        """Yield this node and every element below it in document order."""
        yield self
        for child in self.elements():
            yield from child.walk()

    def elements(self):
        """Return the child elements, without text."""
        return [child for child in self.children if isinstance(child, Node)]

    def find_all(self, tag=None, **attrs):
        """Return every element below with the tag and attribute values."""
        return [
            node
            for node in self.walk()
            if tag in (None, node.tag)
            and all(node.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag=None, **attrs):
        """Return the only element below with the tag and attribute values."""
        (node,) = self.find_all(tag, **attrs)
        return node

    def text(self):
        """Return the text inside, with whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())


class TreeBuilder(HTMLParser):
    """Build a tree of Nodes and refuse an end tag that closes the wrong one."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = [Node("#document", {})]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html):
    """Parse a page and check that every element was closed."""
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert [node.tag for node in builder.stack] == ["#document"]
    return builder.stack[0]


def render(name, context):
    """Render a template with a context."""
    return env.get_template(name).render(context)


def page(name, context):
    """Render a template and parse the result."""
    return parse(render(name, context))


def make_tenant(layout="classic", logo_alt="Stadtwerke Musterstadt"):
    """Build a tenant as the lead's loader hands it to templates."""
    theme = SimpleNamespace(
        layout=layout,
        logo_url="/musterstadt/logo.png",
        logo_alt=logo_alt,
        colors={"primary": "#00557f", "on_primary": "#ffffff"},
        imprint_url="https://sw.example/impressum",
        privacy_url="https://sw.example/datenschutz",
        contact_url="https://sw.example/kontakt",
        footer_text="Stadtwerke Musterstadt GmbH · Am Markt 1",
    )
    return SimpleNamespace(
        slug="musterstadt",
        name="Stadtwerke Musterstadt GmbH",
        short_name="Stadtwerke Musterstadt",
        company_code="1000",
        contact_email="service@sw.example",
        contact_phone="0800 1234567",
        theme=theme,
    )


def portal_context(**changes):
    """Return what every portal page receives."""
    context = {
        "tenant": make_tenant(),
        "theme_css_url": "/musterstadt/theme.css",
        "page_title": "Zählerstand melden",
    }
    return context | changes


def make_field(name, input_type="text", **changes):
    """Build one field of a form section."""
    field = {
        "name": name,
        "label": f"Feld {name}",
        "type": "string",
        "input_type": input_type,
        "required": True,
        "help": "",
        "placeholder": "",
        "autocomplete": "",
        "inputmode": "",
        "max_length": None,
        "choices": (),
        "accept": (),
        "max_bytes": None,
    }
    return SimpleNamespace(**(field | changes))


CHOICES = (("strom", "Strom"), ("gas", "Gas"), ("wasser", "Wasser"))
PHOTO_TYPES = ("image/jpeg", "image/png", "application/pdf")
EVERY_FIELD = (
    make_field("name", autocomplete="name", max_length=80),
    make_field("email", "email", autocomplete="email", required=False),
    make_field("phone", "tel", autocomplete="tel", inputmode="tel"),
    make_field("reading_date", "date"),
    make_field("note", "textarea", help="Zum Beispiel Zugang zum Keller."),
    make_field("meter_kind", "select", choices=CHOICES),
    make_field("medium", "radio", choices=CHOICES),
    make_field("consent", "checkbox"),
    make_field("photo", "file", accept=PHOTO_TYPES, max_bytes=5_000_000),
)
INPUT_TYPES = sorted({field.input_type for field in EVERY_FIELD})


def form_context(*fields, values=None, errors=(), reselect_files=False):
    """Return the context of the form page for some fields."""
    section = SimpleNamespace(title="Ihre Angaben", help="", fields=fields)
    form = SimpleNamespace(
        slug="zaehlerstand",
        title="Zählerstand melden",
        intro="Melden Sie uns Ihren Zählerstand.",
        version=3,
        sections=(section,),
    )
    return portal_context(
        form=form,
        values=values or {},
        errors=list(errors),
        error_map=dict(errors),
        csrf_token=CSRF,
        action="/musterstadt/zaehlerstand",
        reselect_files=reselect_files,
        max_upload_label="20 MB",
        privacy_url="https://sw.example/datenschutz",
    )


def field_page(input_type, error=None, **changes):
    """Render the form page with one field named x, with or without error."""
    errors = [("x", error)] if error else []
    return page(
        "portal/form.html",
        form_context(make_field("x", input_type, **changes), errors=errors),
    )


def admin_context(**changes):
    """Return what every admin page receives."""
    clerk = SimpleNamespace(name="Erika Muster")
    return {"clerk": clerk, "csrf_token": CSRF, "page_title": "Belege"} | changes


STATUSES = [("new", "Neu"), ("done", "Erledigt")]


def make_record(**changes):
    """Build a record as the back office's records page lists it."""
    record = {
        "id": 7,
        "url": "/admin/records/7",
        "tenant_name": "Stadtwerke Musterstadt GmbH",
        "record_type_label": "Zählerstand",
        "form_title": "Zählerstand melden",
        "form_version": 3,
        "receipt": "MS-7KQ4-XH2P",
        "received_at": "04.12.2025, 10:15 Uhr",
        "status": "new",
        "status_label": "Neu",
    }
    return record | changes


def record_context(values=(), attachments=(), message=None):
    """Return the context of one record's page."""
    record = make_record(values=list(values), attachments=list(attachments))
    return admin_context(record=record, statuses=STATUSES, message=message)


PHOTO = {
    "id": 3,
    "label": "Foto des Zählers",
    "field": "photo",
    "filename": "zaehler.jpg",
    "size_label": "1,2 MB",
    "content_type": "image/jpeg",
    "url": "/admin/attachments/3",
}
ERRORS_OF_EVERY_FIELD = [(f.name, f"Fehler bei {f.name}") for f in EVERY_FIELD]
SAMPLES = {
    "portal/home.html": lambda: portal_context(
        tenant=None,
        theme_css_url=None,
        tenants=[{"slug": "musterstadt", "name": "SW", "url": "/musterstadt/"}],
    ),
    "portal/index.html": lambda: portal_context(
        forms=[{"slug": "z", "title": "Zählerstand", "intro": "", "url": "/m/z"}]
    ),
    "portal/form.html": lambda: form_context(
        *EVERY_FIELD, errors=ERRORS_OF_EVERY_FIELD, reselect_files=True
    ),
    "portal/receipt.html": lambda: portal_context(
        form=SimpleNamespace(title="Zählerstand melden"),
        receipt="MS-7KQ4-XH2P",
        received_at="04.12.2025, 10:15 Uhr",
        order=False,
    ),
    "portal/error.html": lambda: portal_context(
        status=404, title="Seite nicht gefunden", message="Prüfen Sie die Adresse."
    ),
    "admin/login.html": lambda: admin_context(
        clerk=None, error="Name oder Passwort ist falsch.", name="erika"
    ),
    "admin/setup.html": lambda: admin_context(
        clerk=None, error="Die Passwörter sind verschieden.", action="/admin/setup"
    ),
    "admin/records.html": lambda: admin_context(
        records=[make_record()], q="", status_filter="", statuses=STATUSES
    ),
    "admin/record.html": lambda: record_context(
        [{"name": "meter_reading", "label": "Zählerstand", "value": "4711"}],
        [PHOTO],
        "Der Status wurde gespeichert.",
    ),
    "admin/error.html": lambda: admin_context(
        status=403, title="Kein Zugriff", message="Bitte melden Sie sich an."
    ),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_page_has_no_inline_style_script_or_event_handler(name):
    nodes = list(page(name, SAMPLES[name]()).walk())

    assert [n.tag for n in nodes if n.tag in ("script", "style")] == []
    assert [n.tag for n in nodes if "style" in n.attrs] == []
    assert [a for n in nodes for a in n.attrs if a.startswith("on")] == []


@pytest.mark.parametrize("name", SAMPLES)
def test_page_is_german_and_fits_the_viewport(name):
    root = page(name, SAMPLES[name]())

    assert root.find("html").attrs["lang"] == "de"
    viewport = root.find("meta", name="viewport")
    assert viewport.attrs["content"] == "width=device-width, initial-scale=1"


@pytest.mark.parametrize("name", SAMPLES)
def test_page_ids_are_unique(name):
    ids = [n.attrs["id"] for n in page(name, SAMPLES[name]()).walk() if "id" in n.attrs]

    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", SAMPLES)
def test_page_has_skip_link_to_main(name):
    root = page(name, SAMPLES[name]())

    first_link = root.find("body").elements()[0]
    assert (first_link.tag, first_link.attrs["href"]) == ("a", "#main")
    assert first_link.text() == "Zum Inhalt springen"
    assert root.find("main").attrs["id"] == "main"


PAGES_WITH_CONTROLS = [
    "portal/form.html",
    "admin/login.html",
    "admin/setup.html",
    "admin/records.html",
    "admin/record.html",
]


@pytest.mark.parametrize("name", PAGES_WITH_CONTROLS)
def test_every_visible_control_and_label_are_bound_to_each_other(name):
    root = page(name, SAMPLES[name]())

    controls = [
        n.attrs["id"]
        for n in root.walk()
        if n.tag in CONTROLS and n.attrs.get("type") != "hidden"
    ]
    labelled = [label.attrs["for"] for label in root.find_all("label")]
    assert sorted(labelled) == sorted(controls)


@pytest.mark.parametrize(
    ("name", "post_forms"),
    [
        ("portal/form.html", 1),
        ("admin/login.html", 1),
        ("admin/setup.html", 1),
        ("admin/records.html", 1),
        ("admin/record.html", 2),
    ],
)
def test_post_form_starts_with_csrf_token(name, post_forms):
    forms = page(name, SAMPLES[name]()).find_all("form", method="post")

    firsts = [form.elements()[0].attrs for form in forms]
    expected = {"type": "hidden", "name": "csrf_token", "value": CSRF}
    assert firsts == [expected] * post_forms


def test_form_posts_multipart_to_its_action():
    form = page("portal/form.html", SAMPLES["portal/form.html"]()).find("form")

    assert form.attrs["action"] == "/musterstadt/zaehlerstand"
    assert form.attrs["enctype"] == "multipart/form-data"


def test_error_summary_links_each_error_to_its_field_in_page_order():
    root = page("portal/form.html", SAMPLES["portal/form.html"]())

    summary = root.find("div", class_="error-summary")
    hrefs = [a.attrs["href"] for a in summary.find_all("a")]
    assert hrefs == [f"#f-{name}" for name, _ in ERRORS_OF_EVERY_FIELD]
    assert [root.find(id=href[1:]).tag for href in hrefs] == ["input"] * 4 + [
        "textarea",
        "select",
    ] + ["input"] * 3


@pytest.mark.parametrize("input_type", INPUT_TYPES)
def test_field_error_stands_beside_field_and_is_described_by(input_type):
    root = field_page(input_type, "Bitte machen Sie hier eine Angabe.", choices=CHOICES)

    error = root.find(id="f-x-error")
    assert error.text() == "Fehler: Bitte machen Sie hier eine Angabe."
    grouped = input_type in ("radio", "checkbox")
    described = root.find("fieldset") if grouped else root.find(id="f-x")
    # A file field always has a hint (its limits), so the error comes last.
    assert described.attrs["aria-describedby"].split()[-1] == "f-x-error"


@pytest.mark.parametrize("input_type", INPUT_TYPES)
def test_field_with_error_marks_its_control_invalid_where_aria_allows(input_type):
    root = field_page(input_type, "Falsch.", choices=CHOICES)

    marked = [
        (n.attrs["id"], n.attrs["aria-invalid"])
        for n in root.walk()
        if "aria-invalid" in n.attrs
    ]
    assert marked == ([] if input_type == "radio" else [("f-x", "true")])


@pytest.mark.parametrize("input_type", INPUT_TYPES)
def test_hint_is_described_before_error(input_type):
    root = field_page(input_type, "Falsch.", help="So geht es.", choices=CHOICES)

    grouped = input_type in ("radio", "checkbox")
    described = root.find("fieldset") if grouped else root.find(id="f-x")
    assert described.attrs["aria-describedby"] == "f-x-hint f-x-error"
    assert root.find(id="f-x-hint").text().startswith("So geht es.")


@pytest.mark.parametrize("input_type", INPUT_TYPES)
def test_label_markup_is_shown_as_text(input_type):
    root = field_page(input_type, label="<b>x</b>", required=True, choices=CHOICES)

    tag = "legend" if input_type in ("radio", "checkbox") else "label"
    assert root.find_all(tag)[0].text() == "<b>x</b>"
    assert root.find_all("b") == []


@pytest.mark.parametrize(
    ("errors", "title"),
    [
        ([], "Zählerstand melden – Stadtwerke Musterstadt"),
        ([("x", "Falsch.")], "Fehler: Zählerstand melden – Stadtwerke Musterstadt"),
    ],
)
def test_page_title_gets_error_prefix_only_with_errors(errors, title):
    root = page("portal/form.html", form_context(make_field("x"), errors=errors))

    assert root.find("title").text() == title


@pytest.mark.parametrize(
    ("input_type", "required", "text"),
    [
        ("text", True, "Name"),
        ("text", False, "Name (optional)"),
        ("radio", False, "Name (optional)"),
        ("file", False, "Name (optional)"),
    ],
)
def test_optional_field_is_marked_not_required_one(input_type, required, text):
    root = field_page(input_type, label="Name", required=required, choices=CHOICES)

    tag = "legend" if input_type == "radio" else "label"
    assert root.find_all(tag)[0].text() == text


@pytest.mark.parametrize(("value", "checked"), [("ja", True), ("", False)])
def test_checkbox_posts_ja_and_keeps_its_tick(value, checked):
    context = form_context(make_field("consent", "checkbox"), values={"consent": value})

    box = page("portal/form.html", context).find(id="f-consent")
    assert (box.attrs["type"], box.attrs["value"]) == ("checkbox", "ja")
    assert ("checked" in box.attrs) is checked


@pytest.mark.parametrize("value", ["strom", "gas", "wasser", ""])
def test_radios_post_choice_values_and_keep_the_chosen_one(value):
    context = form_context(
        make_field("m", "radio", choices=CHOICES), values={"m": value}
    )

    radios = page("portal/form.html", context).find_all("input", type="radio")
    assert [r.attrs["id"] for r in radios] == ["f-m", "f-m-2", "f-m-3"]
    assert [r.attrs["value"] for r in radios] == ["strom", "gas", "wasser"]
    checked = [r.attrs["value"] for r in radios if "checked" in r.attrs]
    assert checked == ([value] if value else [])


@pytest.mark.parametrize("value", ["strom", "wasser"])
def test_select_keeps_the_chosen_option(value):
    context = form_context(
        make_field("m", "select", choices=CHOICES), values={"m": value}
    )

    options = page("portal/form.html", context).find_all("option")
    assert [o.attrs["value"] for o in options] == ["", "strom", "gas", "wasser"]
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == [value]


@pytest.mark.parametrize("input_type", ["text", "email", "tel", "date", "textarea"])
def test_entered_value_is_refilled_as_text(input_type):
    value = '"><script>alert(1)</script>'
    context = form_context(make_field("x", input_type), values={"x": value})

    control = page("portal/form.html", context).find(id="f-x")
    shown = control.text() if input_type == "textarea" else control.attrs["value"]
    assert shown == value
    assert "<script>" not in render("portal/form.html", context)


def test_autocomplete_inputmode_and_placeholder_are_passed_on():
    field = make_field("p", "tel", autocomplete="tel", inputmode="tel", placeholder="0")

    attrs = page("portal/form.html", form_context(field)).find(id="f-p").attrs
    assert (attrs["autocomplete"], attrs["inputmode"], attrs["placeholder"]) == (
        "tel",
        "tel",
        "0",
    )


def test_empty_optional_attributes_are_left_out():
    attrs = page("portal/form.html", form_context(make_field("p"))).find(id="f-p").attrs

    assert sorted(attrs) == ["class", "id", "name", "type", "value"]


@pytest.mark.parametrize(
    ("accept", "max_bytes", "limits"),
    [
        (
            PHOTO_TYPES,
            5_000_000,
            "Erlaubte Dateitypen: JPEG, PNG, PDF. Höchstens 5 MB.",
        ),
        (("application/pdf",), None, "Erlaubte Dateitypen: PDF. Höchstens 20 MB."),
        (("image/jpeg",), 2_500_000, "Erlaubte Dateitypen: JPEG. Höchstens 2,5 MB."),
        ((), 512_000, "Höchstens 512 kB."),
        ((), 1_300_000, "Höchstens 1,3 MB."),
    ],
)
def test_file_field_accepts_its_types_and_names_its_limits(accept, max_bytes, limits):
    root = field_page("file", accept=accept, max_bytes=max_bytes)

    assert root.find(id="f-x").attrs.get("accept") == (",".join(accept) or None)
    assert root.find(id="f-x-hint").text() == limits
    assert root.find(id="f-x").attrs["aria-describedby"] == "f-x-hint"


@pytest.mark.parametrize(("reselect", "warnings"), [(True, 2), (False, 0)])
def test_reselect_notice_stands_above_form_and_at_each_file_field(reselect, warnings):
    files = (make_field("a", "file"), make_field("b", "file"))
    root = page("portal/form.html", form_context(*files, reselect_files=reselect))

    blocks = [n.attrs.get("class") for n in root.find("main").elements()]
    above = blocks[: blocks.index("form")]
    assert above.count("notice") == (1 if reselect else 0)
    hints = root.find_all("p", class_="hint__warning")
    again = "Bitte wählen Sie die Datei erneut aus."
    assert [h.text() for h in hints] == [again] * warnings


def test_privacy_link_stands_right_above_submit_button():
    form = page("portal/form.html", form_context(make_field("x"))).find("form")

    privacy, button = form.elements()[-2:]
    assert privacy.find("a").attrs["href"] == "https://sw.example/datenschutz"
    assert (button.tag, button.attrs["type"], button.text()) == (
        "button",
        "submit",
        "Absenden",
    )


@pytest.mark.parametrize(
    ("input_type", "max_length", "hints", "css_class"),
    [
        ("textarea", 500, ["Höchstens 500 Zeichen."], "input input--textarea"),
        ("text", 70, ["Höchstens 70 Zeichen."], "input"),
        ("text", 5, [], "input input--narrow"),
        ("text", None, [], "input"),
    ],
)
def test_long_text_limit_is_told_and_short_one_narrows_box(
    input_type, max_length, hints, css_class
):
    root = field_page(input_type, max_length=max_length)

    assert [h.text() for h in root.find_all(id="f-x-hint")] == hints
    assert root.find(id="f-x").attrs["class"] == css_class


NONE_AVAILABLE = "Zurzeit steht kein Formular zur Verfügung."
METER_FORM = {"slug": "z", "title": "Zählerstand", "intro": "Kurz.", "url": "/m/z"}


@pytest.mark.parametrize(
    ("forms", "links", "says_none"),
    [([METER_FORM], [("Zählerstand", "/m/z")], False), ([], [], True)],
)
def test_index_lists_forms_or_says_none_is_available(forms, links, says_none):
    main = page("portal/index.html", portal_context(forms=forms)).find("main")

    listed = [(a.text(), a.attrs["href"]) for a in main.find_all("a", href="/m/z")]
    assert listed == links
    assert (NONE_AVAILABLE in main.text()) is says_none


@pytest.mark.parametrize(
    ("layout", "css_class"),
    [
        ("classic", "header header--classic"),
        ("centered", "header header--centered"),
        ("banner", "header header--banner"),
        ("wild", "header header--classic"),
    ],
)
def test_header_follows_the_tenant_layout(layout, css_class):
    context = portal_context(tenant=make_tenant(layout), forms=[])

    header = page("portal/index.html", context).find("header")
    assert header.attrs["class"] == css_class
    assert header.find("a").attrs["href"] == "/musterstadt/"
    assert header.find("a").text() == "Stadtwerke Musterstadt"


@pytest.mark.parametrize(
    ("logo_alt", "alt"),
    [("Stadtwerke Musterstadt", ""), ("Logo mit Blitz", "Logo mit Blitz")],
)
def test_logo_alt_is_emptied_when_it_repeats_the_name_beside_it(logo_alt, alt):
    context = portal_context(tenant=make_tenant(logo_alt=logo_alt), forms=[])

    logo = page("portal/index.html", context).find("img")
    assert (logo.attrs["src"], logo.attrs["alt"]) == ("/musterstadt/logo.png", alt)


@pytest.mark.parametrize(
    ("theme_css_url", "hrefs"),
    [
        ("/musterstadt/theme.css", ["/static/portal.css", "/musterstadt/theme.css"]),
        (None, ["/static/portal.css"]),
    ],
)
def test_portal_css_is_linked_before_theme_css(theme_css_url, hrefs):
    context = portal_context(theme_css_url=theme_css_url, forms=[])

    links = page("portal/index.html", context).find_all("link", rel="stylesheet")
    assert [link.attrs["href"] for link in links] == hrefs


@pytest.mark.parametrize(
    ("page_title", "title"),
    [
        ("Stadtwerke Musterstadt", "Stadtwerke Musterstadt"),
        ("Formulare", "Formulare – Stadtwerke Musterstadt"),
    ],
)
def test_title_names_the_tenant_once(page_title, title):
    context = portal_context(page_title=page_title, forms=[])

    assert page("portal/index.html", context).find("title").text() == title


def test_footer_links_imprint_privacy_and_contact_and_shows_its_text():
    footer = page("portal/index.html", portal_context(forms=[])).find("footer")

    links = [(a.text(), a.attrs["href"]) for a in footer.find_all("a")]
    assert links == [
        ("Impressum", "https://sw.example/impressum"),
        ("Datenschutz", "https://sw.example/datenschutz"),
        ("Kontakt", "https://sw.example/kontakt"),
    ]
    assert footer.find("p").text() == "Stadtwerke Musterstadt GmbH · Am Markt 1"


def test_home_lists_tenants_without_a_tenant_frame():
    root = page("portal/home.html", SAMPLES["portal/home.html"]())

    assert root.find("h1").text() == "Portale"
    assert root.find("main").find("a").attrs["href"] == "/musterstadt/"
    assert root.find("title").text() == "Zählerstand melden"
    assert root.find_all("img") == []


@pytest.mark.parametrize(
    ("title", "quote"),
    [
        ("Zählerstand melden", "zu Ihrem Anliegen „Zählerstand melden“ an uns"),
        ("", "zu Ihrem Anliegen an uns"),
    ],
)
def test_receipt_shows_its_number_in_the_confirmation_panel(title, quote):
    context = SAMPLES["portal/receipt.html"]() | {"form": {"title": title}}

    root = page("portal/receipt.html", context)
    panel = root.find("div", class_="panel")
    thanks = "Vielen Dank. Ihre Angaben sind bei uns eingegangen."
    assert panel.find("h1").text() == thanks
    assert panel.find("strong").text() == "MS-7KQ4-XH2P"
    assert quote in root.find("main").text()


@pytest.mark.parametrize(
    ("name", "heading", "text"),
    [
        ("portal/error.html", "Seite nicht gefunden", "Fehlercode 404"),
        ("admin/error.html", "Kein Zugriff", "Fehlercode 403"),
    ],
)
def test_error_page_shows_title_message_and_status(name, heading, text):
    main = page(name, SAMPLES[name]()).find("main")

    assert main.find("h1").text() == heading
    assert text in main.text()


@pytest.mark.parametrize(
    ("clerk", "logout_forms"), [(SimpleNamespace(name="Erika"), 1), (None, 0)]
)
def test_admin_logout_button_shows_only_when_logged_in(clerk, logout_forms):
    context = admin_context(clerk=clerk, status=404, title="Fehlt", message="Weg.")

    forms = page("admin/error.html", context).find_all("form", action="/admin/logout")
    assert len(forms) == logout_forms
    assert [f.find("button").text() for f in forms] == ["Abmelden"] * logout_forms


@pytest.mark.parametrize(("error", "alerts"), [(None, 0), ("Falsch.", 1)])
def test_login_keeps_the_name_and_shows_the_error(error, alerts):
    context = admin_context(clerk=None, error=error, name="erika")

    root = page("admin/login.html", context | {"page_title": "Fehler: Anmelden"})
    assert root.find(id="f-name").attrs["value"] == "erika"
    assert root.find("title").text() == "Fehler: Anmelden · MODPORTAL Back-Office"
    assert [a.text() for a in root.find_all("div", role="alert")] == [
        "Anmeldung nicht möglich Falsch."
    ] * alerts


def test_setup_asks_for_name_and_password_twice():
    root = page("admin/setup.html", SAMPLES["admin/setup.html"]())

    form = root.find("form", action="/admin/setup")
    names = [n.attrs["name"] for n in form.find_all() if n.tag in CONTROLS]
    assert names == ["csrf_token", "name", "password", "repeat"]
    assert root.find(id="f-password").attrs["autocomplete"] == "new-password"


def test_records_table_links_each_receipt_to_its_record():
    root = page("admin/records.html", SAMPLES["admin/records.html"]())

    table = root.find("table")
    assert table.find("caption").text() == "1 Beleg, neueste zuerst"
    link = table.find("tbody").find("a")
    assert (link.text(), link.attrs["href"]) == ("MS-7KQ4-XH2P", "/admin/records/7")


@pytest.mark.parametrize(
    ("q", "status_filter", "sentence"),
    [
        ("", "", "Es sind noch keine Belege eingegangen."),
        ("MS-0000", "", "Zu Ihrer Suche gibt es keine Belege."),
        ("", "done", "Zu Ihrer Suche gibt es keine Belege."),
    ],
)
def test_records_without_rows_say_why(q, status_filter, sentence):
    context = admin_context(records=[], q=q, status_filter=status_filter)

    root = page("admin/records.html", context | {"statuses": STATUSES})
    assert root.find("p", class_="empty").text() == sentence
    assert root.find_all("table") == []


@pytest.mark.parametrize(("status_filter", "selected"), [("done", "done"), ("", "")])
def test_records_search_keeps_query_and_status(status_filter, selected):
    context = admin_context(records=[], q="MS-7", status_filter=status_filter)

    root = page("admin/records.html", context | {"statuses": STATUSES})
    assert root.find(id="f-q").attrs["value"] == "MS-7"
    options = root.find(id="f-status").find_all("option")
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == (
        [selected] if selected else []
    )


@pytest.mark.parametrize(
    ("value", "shown"), [("4711", "4711"), ("", "keine Angabe"), ("<i>", "<i>")]
)
def test_record_shows_each_value_with_label_and_field_name(value, shown):
    item = {"name": "meter_reading", "label": "Zählerstand", "value": value}

    row = page("admin/record.html", record_context([item])).find("tbody").find("tr")
    assert row.find("th").text() == "Zählerstand meter_reading"
    assert row.find("code").text() == "meter_reading"
    assert row.find("td").text() == shown


def test_record_attachments_are_download_links():
    root = page("admin/record.html", record_context(attachments=[PHOTO]))

    link = root.find("ul", class_="attachments").find("a")
    assert link.attrs["href"] == "/admin/attachments/3"
    assert "download" in link.attrs
    assert link.text() == "Foto des Zählers: zaehler.jpg"


@pytest.mark.parametrize(("message", "notices"), [("Gespeichert.", 1), (None, 0)])
def test_record_status_form_preselects_current_status(message, notices):
    root = page("admin/record.html", record_context(message=message))

    form = root.find("form", action="/admin/records/7/status")
    options = form.find("select", name="status").find_all("option")
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["new"]
    assert form.find("button").text() == "Status speichern"
    assert len(root.find_all("div", role="status")) == notices


def theme_css(colors, layout="classic"):
    """Render theme.css and return its custom properties as a dict."""
    css = render("portal/theme.css", {"colors": colors, "layout": layout})
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", css))


@pytest.mark.parametrize(
    ("key", "prop"),
    [
        ("primary", "--color-primary"),
        ("on_primary", "--color-on-primary"),
        ("accent", "--color-accent"),
        ("background", "--color-background"),
        ("text", "--color-text"),
        ("link", "--color-link"),
    ],
)
def test_theme_css_sets_a_property_for_each_colour(key, prop):
    assert theme_css({key: "#00557F"})[prop] == "#00557f"


@pytest.mark.parametrize(
    "value", ["red", "#00557", "#0055zz", "#fff;}body{display:none", "", None]
)
def test_theme_css_drops_a_colour_that_is_not_hex(value):
    properties = theme_css({"primary": value, "text": "#0b0c0c"})

    assert "--color-primary" not in properties
    assert properties["--color-text"] == "#0b0c0c"


@pytest.mark.parametrize(
    ("layout", "header_bg"),
    [
        ("banner", "var(--color-primary)"),
        ("classic", "var(--color-background)"),
        ("centered", "var(--color-background)"),
    ],
)
def test_theme_css_colours_the_header_by_layout(layout, header_bg):
    assert theme_css({}, layout)["--header-bg"] == header_bg


def split_root(css):
    """Split a stylesheet into its first :root block and everything else."""
    match = re.search(r":root\s*\{[^}]*\}", css)
    return match.group(0), css[: match.start()] + css[match.end() :]


@pytest.mark.parametrize("sheet", ["portal.css", "admin.css"])
def test_stylesheet_names_colours_only_in_its_root_block(sheet):
    _, rest = split_root((STATIC / sheet).read_text())

    assert re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(", rest) == []


@pytest.mark.parametrize("sheet", ["portal.css", "admin.css"])
def test_stylesheet_reads_only_declared_custom_properties(sheet):
    css = (STATIC / sheet).read_text()
    declared = set(re.findall(r"(--[\w-]+):", css))
    if sheet == "portal.css":
        declared |= set(theme_css({"primary": "#000000"}, "banner"))

    assert set(re.findall(r"var\((--[\w-]+)\)", css)) - declared == set()


TENANTS = ["musterstadt", "nordstadt"]


def tenant_yaml(slug):
    """Load a tenant's theme file."""
    return yaml.safe_load((THEMES / slug / "tenant.yaml").read_text())


def contrast(first, second):
    """Return the WCAG contrast ratio of two #rrggbb colours."""

    def luminance(color):
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [
            c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
            for c in channels
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted([luminance(first), luminance(second)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("slug", TENANTS)
@pytest.mark.parametrize(
    ("front", "back"),
    [
        ("on_primary", "primary"),
        ("text", "background"),
        ("link", "background"),
        ("primary", "background"),
        ("text", "accent"),
    ],
)
def test_tenant_colour_pairs_meet_wcag_aa(slug, front, back):
    colors = tenant_yaml(slug)["theme"]["colors"]

    assert contrast(colors[front], colors[back]) >= 4.5


@pytest.mark.parametrize("slug", TENANTS)
def test_error_colour_is_readable_on_tenant_background(slug):
    root, _ = split_root((STATIC / "portal.css").read_text())
    error = re.search(r"--color-error:\s*(#[0-9a-f]{6})", root).group(1)

    assert contrast(error, tenant_yaml(slug)["theme"]["colors"]["background"]) >= 4.5


@pytest.mark.parametrize("slug", TENANTS)
def test_tenant_creditor_id_has_valid_check_digits(slug):
    creditor_id = tenant_yaml(slug)["creditor_id"]

    # ISO 7064 MOD 97-10 over the national part, the country and "00"; the
    # business code in characters 5 to 7 takes no part.
    digits = "".join(str(int(c, 36)) for c in creditor_id[7:] + creditor_id[:2] + "00")
    assert (creditor_id[4:7], 98 - int(digits) % 97) == ("ZZZ", int(creditor_id[2:4]))


@pytest.mark.parametrize(
    ("slug", "layout", "company_code"),
    [("musterstadt", "classic", "1000"), ("nordstadt", "banner", "2000")],
)
def test_tenant_yaml_names_layout_and_company_code(slug, layout, company_code):
    tenant = tenant_yaml(slug)

    assert (tenant["theme"]["layout"], tenant["company_code"]) == (layout, company_code)
    assert (THEMES / slug / tenant["theme"]["logo"]).is_file()


@pytest.mark.parametrize("slug", TENANTS)
def test_tenant_logo_is_a_png_of_240_by_64(slug):
    with Image.open(THEMES / slug / "logo.png") as logo:
        assert (logo.format, logo.size) == ("PNG", (240, 64))
        assert len(logo.getcolors(maxcolors=65536)) > 16
