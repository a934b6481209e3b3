"""What a new clinic's camera does to an image, drawn at random, for the acquisition gate.

Dermoscopy from a camera the gate never saw must still pass, so its training
images are varied the ways cameras and clinics vary them: white balance and
colour, blur, JPEG quality, resolution, crops, the dermatoscope's vignette or
black circle (or a small field of view on black), a ruler along an edge,
surgical-marker ink. The negatives get the same changes with the same odds, so
that none of them (a black circle, a ruler) can become the cue that says
"dermoscopy".

Works on PIL images before the shared resize (skinscan_model.preprocessing), as
the service would receive them.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

__all__ = ["augment_photo", "crop_bottom", "small_field_of_view"]


def crop_bottom(image: Image.Image, share: float) -> Image.Image:
    if share <= 0:
        return image
    return image.crop((0, 0, image.width, max(1, round(image.height * (1 - share)))))


def _crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random crop of 45-100% of the area, aspect 3/4 to 4/3."""
    area = image.width * image.height * rng.uniform(0.45, 1.0)
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    width = min(image.width, max(8, round((area * aspect) ** 0.5)))
    height = min(image.height, max(8, round((area / aspect) ** 0.5)))
    left = int(rng.integers(0, image.width - width + 1))
    top = int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


def _colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.35))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.4))
    # White balance: a colour cast per channel, as another camera or light gives.
    gains = rng.uniform(0.8, 1.2, 3)
    pixels = np.asarray(image, dtype=np.float32) * gains
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _circle(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The dermatoscope's round field of view: black outside a circle, or a soft vignette."""
    width, height = image.size
    y, x = np.mgrid[0:height, 0:width]
    cy = height / 2 + rng.uniform(-0.08, 0.08) * height
    cx = width / 2 + rng.uniform(-0.08, 0.08) * width
    distance = np.hypot((x - cx) / (width / 2), (y - cy) / (height / 2))
    if rng.random() < 0.6:
        radius = rng.uniform(0.85, 1.3)
        mask = (distance <= radius).astype(np.float32)
    else:
        mask = np.clip(1.25 - rng.uniform(0.3, 0.7) * distance**2, 0, 1).astype(np.float32)
    pixels = np.asarray(image, dtype=np.float32) * mask[..., None]
    return Image.fromarray(pixels.astype(np.uint8))


def small_field_of_view(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A small field of view on black, as many acral and older dermatoscope cameras take it:
    the picture shrunk into a circle of 45-85% of the frame, sometimes with a coloured rim."""
    width, height = image.size
    side = min(width, height)
    diameter = max(8, round(side * rng.uniform(0.45, 0.85)))
    inner = image.resize((diameter, diameter), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 18, 3)))
    # Near the centre, as a lens sits over the sensor.
    left = int(
        np.clip((width - diameter) / 2 + rng.uniform(-0.08, 0.08) * width, 0, width - diameter)
    )
    top = int(
        np.clip((height - diameter) / 2 + rng.uniform(-0.08, 0.08) * height, 0, height - diameter)
    )
    if rng.random() < 0.3:
        rim = max(2, round(diameter * rng.uniform(0.04, 0.12)))
        colour = tuple(int(v) for v in rng.integers(40, 220, 3))
        ImageDraw.Draw(canvas).ellipse(
            (left - rim, top - rim, left + diameter + rim, top + diameter + rim), fill=colour
        )
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    canvas.paste(inner, (left, top), mask.filter(ImageFilter.GaussianBlur(diameter * 0.02)))
    return canvas


def _ruler(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A ruler along one edge: a pale or dark bar with ticks."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    width, height = image.size
    thickness = max(3, round(min(width, height) * rng.uniform(0.05, 0.1)))
    bar, tick = (
        ((235, 235, 225), (20, 20, 20)) if rng.random() < 0.7 else ((25, 25, 25), (230, 230, 230))
    )
    step = max(3, round(min(width, height) * rng.uniform(0.03, 0.06)))
    if rng.random() < 0.5:
        top = 0 if rng.random() < 0.5 else height - thickness
        draw.rectangle((0, top, width, top + thickness), fill=bar)
        for i, x in enumerate(range(0, width, step)):
            draw.line((x, top, x, top + thickness * (0.8 if i % 5 == 0 else 0.45)), fill=tick)
    else:
        left = 0 if rng.random() < 0.5 else width - thickness
        draw.rectangle((left, 0, left + thickness, height), fill=bar)
        for i, y in enumerate(range(0, height, step)):
            draw.line((left, y, left + thickness * (0.8 if i % 5 == 0 else 0.45), y), fill=tick)
    return image


def _ink(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A few strokes of surgical marker (purple, blue or black) near the edge."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    colours = ((110, 40, 140), (40, 60, 150), (30, 30, 35))
    colour = colours[int(rng.integers(len(colours)))]
    width, height = image.size
    for _ in range(int(rng.integers(1, 4))):
        points = [(rng.uniform(0, width), rng.uniform(0, height)) for _ in range(3)]
        draw.line(points, fill=colour, width=max(1, round(min(width, height) * 0.015)))
    return image


def _jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(25, 96)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def augment_photo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One random draw of what a clinic's camera and habits do to an RGB image."""
    image = _crop(image.convert("RGB"), rng)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.5:
        image = image.rotate(90 * int(rng.integers(1, 4)), expand=True)
    image = _colour(image, rng)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6)))
    if rng.random() < 0.3:
        factor = rng.uniform(0.35, 0.8)
        small = (max(16, round(image.width * factor)), max(16, round(image.height * factor)))
        image = image.resize(small, Image.Resampling.BILINEAR).resize(image.size)
    if rng.random() < 0.3:
        image = _circle(image, rng)
    elif rng.random() < 0.15:
        image = small_field_of_view(image, rng)
    if rng.random() < 0.15:
        image = _ruler(image, rng)
    if rng.random() < 0.15:
        image = _ink(image, rng)
    if rng.random() < 0.5:
        image = _jpeg(image, rng)
    return image
