"""Tenant designs: the values a clerk may set, their checks, and the logo.

A design is what the portal's frame is drawn from: header layout, colours,
logo, the imprint, privacy and contact links and the footer line. Every
value is checked here before it is stored, so the portal and the mails only
ever receive colours that are #rrggbb codes with readable contrast, links
that are https (or mailto for contact), and a logo that Pillow decoded and
encoded afresh. Pure code but for Pillow; nothing here does I/O.
"""

import io
import json
import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from PIL import Image

from app.tenants import COLOR_KEYS, LAYOUTS, MAIL_ADDRESS, Theme

COLOR = re.compile(r"#[0-9a-f]{6}")
LAYOUT_LABELS = {
    "classic": "Klassisch: Logo links, Name daneben",
    "centered": "Zentriert: Logo und Name in der Mitte",
    "banner": "Banner: Logo und Name auf einem Balken in der Hauptfarbe",
}
COLOR_LABELS = {
    "primary": "Hauptfarbe",
    "on_primary": "Schrift auf der Hauptfarbe",
    "accent": "Akzentfarbe (Fokus)",
    "background": "Hintergrund",
    "text": "Schriftfarbe",
    "link": "Linkfarbe",
}
TEXT_LABELS = {
    "imprint_url": "Impressum",
    "privacy_url": "Datenschutz",
    "contact_url": "Kontakt",
    "footer_text": "Fußzeile",
    "logo_alt": "Alternativtext des Logos",
}
# Each pair is (text colour, its background); every one must reach 4.5:1,
# WCAG 2.x AA for normal text. Text on the accent colour is the focus mark.
CONTRAST_PAIRS = (
    ("text", "background"),
    ("link", "background"),
    ("on_primary", "primary"),
    ("text", "accent"),
)
MIN_CONTRAST = 4.5
MAX_URL = 500
MAX_TEXT = {"footer_text": 300, "logo_alt": 120}

# The logo: judged by its first bytes, then decoded and encoded as PNG.
MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_PIXELS = 4_000_000
MAX_LOGO_SIDE = 4000
# Twice the header's largest display size (3rem high), for sharp screens.
LOGO_BOX = (480, 128)


class DesignRefused(Exception):
    """A design with wrong values; `errors` maps each field to German text."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Design:
    """A tenant's design as a clerk sets it; the logo is kept beside it."""

    layout: str
    colors: dict[str, str]
    logo_alt: str
    imprint_url: str
    privacy_url: str
    contact_url: str
    footer_text: str

    def to_json(self) -> str:
        """Return the design as JSON, the form both sides store it in."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    def form_values(self) -> dict[str, str]:
        """Return the design as the flat values of the admin's form."""
        values = {key: value for key, value in asdict(self).items() if key != "colors"}
        return {**values, **self.colors}

    @classmethod
    def from_json(cls, text: str) -> "Design":
        """Read a design stored by to_json."""
        return cls(**json.loads(text))

    def theme(self, slug: str, version: int, has_logo: bool) -> Theme:
        """Return the design as the templates read it."""
        logo_url = f"/static/tenant/{slug}/logo.png?v={version}" if has_logo else None
        return Theme(
            layout=self.layout,
            logo_path=None,
            logo_url=logo_url,
            logo_alt=self.logo_alt,
            colors=dict(self.colors),
            imprint_url=self.imprint_url,
            privacy_url=self.privacy_url,
            contact_url=self.contact_url,
            footer_text=self.footer_text,
            version=version,
        )


def from_theme(theme: Theme) -> Design:
    """Return the design a tenant's theme file holds (its first version)."""
    return Design(
        layout=theme.layout,
        colors={key: theme.colors[key].lower() for key in COLOR_KEYS},
        logo_alt=theme.logo_alt,
        imprint_url=theme.imprint_url,
        privacy_url=theme.privacy_url,
        contact_url=theme.contact_url,
        footer_text=theme.footer_text,
    )


# Contrast, after WCAG 2.x: relative luminance of sRGB colours.


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Return the relative luminance of a #rrggbb colour."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """Return the contrast ratio of two #rrggbb colours, from 1 to 21."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ratio_text(ratio: float) -> str:
    """Write a ratio the German way, cut (not rounded) to one decimal.

    Cutting keeps 4.46 from showing as "4,5:1" beside a refusal for 4,5:1.
    """
    return f"{int(ratio * 10) / 10:.1f}".replace(".", ",") + ":1"


def _contrast_errors(colors: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for text, background in CONTRAST_PAIRS:
        ratio = contrast_ratio(colors[text], colors[background])
        if ratio < MIN_CONTRAST:
            key = text if text not in errors else background
            errors[key] = (
                f"Kontrast {ratio_text(ratio)} zwischen {COLOR_LABELS[text]} und "
                f"{COLOR_LABELS[background]}; nötig sind mindestens "
                f"{ratio_text(MIN_CONTRAST)}."
            )
    return errors


# Checking what a clerk typed.


def _url_error(key: str, value: str) -> str | None:
    label = TEXT_LABELS[key]
    allowed = "https://" + (" oder mailto:" if key == "contact_url" else "")
    if not value:
        return f"{label}: Geben Sie eine Adresse an."
    if len(value) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in value):
        return f"{label}: Die Adresse ist zu lang oder enthält Leerzeichen."
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if key == "contact_url" and scheme == "mailto":
        if MAIL_ADDRESS.fullmatch(value[len("mailto:") :]):
            return None
        return f"{label}: Nach mailto: muss genau eine E-Mail-Adresse folgen."
    if scheme != "https" or not parts.hostname or parts.username is not None:
        return f"{label}: Erlaubt sind nur Adressen, die mit {allowed} beginnen."
    return None


def check_design(values: dict[str, str]) -> Design:
    """Return the design a clerk's form describes, or refuse it field by field."""
    errors: dict[str, str] = {}
    layout = values.get("layout", "")
    if layout not in LAYOUTS:
        errors["layout"] = "Kopfbereich: Wählen Sie eine der Anordnungen."
    colors = {}
    for key in COLOR_KEYS:
        value = values.get(key, "").strip().lower()
        if COLOR.fullmatch(value):
            colors[key] = value
        else:
            errors[key] = (
                f"{COLOR_LABELS[key]}: Geben Sie die Farbe als #rrggbb an, "
                "zum Beispiel #00557f."
            )
    if len(colors) == len(COLOR_KEYS):
        errors.update(_contrast_errors(colors))
    texts = {}
    for key in ("imprint_url", "privacy_url", "contact_url"):
        texts[key] = values.get(key, "").strip()
        if error := _url_error(key, texts[key]):
            errors[key] = error
    for key, limit in MAX_TEXT.items():
        texts[key] = " ".join(values.get(key, "").split())
        if len(texts[key]) > limit:
            errors[key] = f"{TEXT_LABELS[key]}: Höchstens {limit} Zeichen."
    if errors:
        raise DesignRefused(errors)
    return Design(layout=layout, colors=colors, **texts)


# The logo.

LOGO_REFUSED = (
    "Logo: Erlaubt sind PNG, JPEG und WebP; diese Datei ist keines davon "
    "(SVG und andere Formate werden nicht angenommen)."
)


def logo_format(data: bytes) -> str | None:
    """Return the image format by the file's first bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def process_logo(data: bytes) -> bytes:
    """Check an uploaded logo by content, decode it and return a fresh PNG.

    The new PNG carries pixels only: no Exif, XMP, ICC profile or text
    chunks. Runs Pillow's decoders, so call it off the event loop.
    """
    if len(data) > MAX_LOGO_BYTES:
        raise DesignRefused(
            {"logo": f"Logo: Die Datei ist größer als {MAX_LOGO_BYTES // 1024} kB."}
        )
    kind = logo_format(data)
    if kind is None:
        raise DesignRefused({"logo": LOGO_REFUSED})
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            # The header's size comes before any pixel is decoded, so a small
            # file that would unpack to a huge picture is refused here.
            width, height = image.size
            if width * height > MAX_LOGO_PIXELS or max(width, height) > MAX_LOGO_SIDE:
                raise DesignRefused({"logo": TOO_MANY_PIXELS})
            image.seek(0)
            image.load()
            picture = image.convert("RGBA" if _has_alpha(image) else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own ceiling, far above ours, met while reading the header.
        raise DesignRefused({"logo": TOO_MANY_PIXELS}) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise DesignRefused(
            {"logo": "Logo: Die Datei ist beschädigt und lässt sich nicht lesen."}
        ) from error
    picture.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=True)
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


# One message for every way a picture is found too large, so the answer does
# not depend on whether Pillow's own ceiling or ours noticed it first.
TOO_MANY_PIXELS = (
    f"Logo: Das Bild hat zu viele Pixel; erlaubt sind höchstens "
    f"{MAX_LOGO_PIXELS // 1_000_000} Millionen Pixel und {MAX_LOGO_SIDE} Pixel "
    "je Seite."
)
