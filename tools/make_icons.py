"""Draws the web app's icons (gateway/web/static/icons): run once when the design changes.

A lesion under a dermatoscope's ring, in the app's colours. The maskable icon
keeps the drawing inside the central 80% that every launcher shape shows.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

FOLDER = Path(__file__).resolve().parents[1] / "gateway" / "web" / "static" / "icons"
BRAND = (15, 76, 92, 255)
RING = (255, 255, 255, 255)
LESION = (120, 72, 44, 255)


def icon(size: int, maskable: bool) -> Image.Image:
    scale = 4  # drawn large, then reduced: smooth edges
    side = size * scale
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, side, side), fill=BRAND)
        inset = side * 0.22
    else:
        draw.rounded_rectangle((0, 0, side - 1, side - 1), radius=side * 0.2, fill=BRAND)
        inset = side * 0.14
    draw.ellipse((inset, inset, side - inset, side - inset), outline=RING, width=int(side * 0.06))
    centre, radius = side / 2, side * (0.14 if maskable else 0.17)
    draw.ellipse(
        (centre - radius * 1.1, centre - radius, centre + radius, centre + radius * 0.9),
        fill=LESION,
    )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    icon(192, False).save(FOLDER / "icon-192.png", optimize=True)
    icon(512, False).save(FOLDER / "icon-512.png", optimize=True)
    icon(512, True).save(FOLDER / "icon-maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
