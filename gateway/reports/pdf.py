"""The PDF report of one analysis (ReportLab): one A4 page a clinician can file or send.

Every string from a user (names, notes) is escaped before ReportLab's
paragraph markup sees it.
"""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from PIL import Image as PilImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from gateway.reports.content import ReportContent
from gateway.reports.pictures import blend, display_image, encode
from gateway.reports.wording import (
    SHORT_DISCLAIMER,
    age_words,
    body_site_words,
    diagnosis_words,
    finding_title,
    result_words,
    when_words,
)

__all__ = ["report_pdf"]

_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=11.5)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=10, textColor=colors.grey)
_HEAD = ParagraphStyle("head", parent=_STYLES["Heading2"], fontSize=11, spaceBefore=6, spaceAfter=3)
_TITLE = ParagraphStyle("title", parent=_STYLES["Title"], fontSize=16, spaceAfter=4, alignment=0)
_RESULT = ParagraphStyle("result", parent=_STYLES["Heading1"], fontSize=14, spaceAfter=2)
_WARN = ParagraphStyle(
    "disclaimer",
    parent=_BODY,
    backColor=colors.HexColor("#fff4d6"),
    borderColor=colors.HexColor("#b07d00"),
    borderWidth=0.8,
    borderPadding=5,
    spaceBefore=8,
)
_PICTURE_SIDE = 62 * mm


def _text(value: object) -> str:
    return escape(str(value))


def _picture(image: PilImage.Image) -> Image:
    width, height = image.size
    scale = _PICTURE_SIDE / max(width, height)
    return Image(io.BytesIO(encode(image)), width=width * scale, height=height * scale)


def _pictures(content: ReportContent) -> list[Flowable]:
    heatmap = content.analysis.analysis.heatmap
    if content.image is None:
        note = "The image was not kept (the clinic keeps only results)."
        return [Paragraph(_text(note), _SMALL)]
    image, original = display_image(content.image, side=800)
    cells: list[Flowable] = [_picture(image)]
    captions = ["Analysed image"]
    if heatmap is not None:
        cells.append(_picture(blend(image, heatmap, original)))
        captions.append("Heat map: where the model looked (yellow most)")
    table = Table(
        [cells, [Paragraph(_text(c), _SMALL) for c in captions]],
        colWidths=[_PICTURE_SIDE + 6 * mm] * len(cells),
        hAlign="LEFT",
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [table]


def _result(content: ReportContent) -> list[Flowable]:
    analysis = content.analysis.analysis
    words = result_words(analysis)
    parts: list[Flowable] = [Paragraph(_text(words.headline), _RESULT)]
    if not analysis.assessable:
        parts.append(
            Paragraph(
                "The image could not be assessed, so no result is given. Retake it as advised "
                "below and analyse it again.",
                _BODY,
            )
        )
    else:
        lines = [
            f"Malignancy probability (calibrated): <b>{analysis.malignant_probability:.0%}</b>; "
            f"referral threshold {analysis.decision_threshold:.0%}"
            + (f" ({_text(analysis.threshold_basis)})." if analysis.threshold_basis else "."),
        ]
        if words.confidence is not None:
            lines.append(f"Confidence in this result: {words.confidence:.0%}.")
        parts += [Paragraph(line, _BODY) for line in lines]
        if words.diagnoses:
            rows = [["Diagnosis", "Probability"]] + [
                [Paragraph(_text(name), _BODY), f"{p:.1%}"] for _, name, p in words.diagnoses
            ]
            table = Table(rows, colWidths=[120 * mm, 30 * mm], hAlign="LEFT")
            table.setStyle(
                TableStyle(
                    [
                        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                        ("TOPPADDING", (0, 0), (-1, -1), 1),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                    ]
                )
            )
            parts += [Spacer(1, 3), table]
    findings = words.refusals + words.warnings
    if findings:
        parts.append(Paragraph("Findings", _HEAD))
        parts += [
            Paragraph(f"<b>{_text(finding_title(f))}:</b> {_text(f.reason)}", _BODY)
            for f in findings
        ]
    return parts


def _reviews(content: ReportContent) -> list[Flowable]:
    done = [r for r in content.reviews if r.diagnosis]
    if not done:
        return []
    parts: list[Flowable] = [Paragraph("Dermatologist's review", _HEAD)]
    for review in done:
        method = review.method.value.replace("_", " ") if review.method else ""
        when = when_words(review.reviewed_at) if review.reviewed_at else ""
        line = f"Confirmed: <b>{_text(diagnosis_words(review.diagnosis))}</b>, by {_text(method)}, {when}."
        if review.review_note:
            line += f" Note: {_text(review.review_note)}"
        parts.append(Paragraph(line, _BODY))
    return parts


def report_pdf(content: ReportContent, now: datetime) -> bytes:
    """The report as PDF bytes."""
    recorded, patient, lesion = content.analysis, content.patient, content.lesion
    analysis = recorded.analysis
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title="skinscan lesion assessment",
        author=content.clinic_name,
        subject="AI-assisted assessment of a skin lesion",
    )
    facts = [
        ["Clinic", content.clinic_name, "Analysed", when_words(recorded.created_at)],
        ["Patient", patient.name, "Sex", patient.sex.value],
        [
            "Identifier",
            patient.identifier or "—",
            "Age",
            age_words(patient.birth_date, patient.age_years, now.date()),
        ],
        [
            "Lesion site",
            body_site_words(lesion.body_site),
            "First seen",
            lesion.first_seen.isoformat(),
        ],
    ]
    if lesion.description:
        facts.append(["Lesion", lesion.description, "", ""])
    fact_table = Table(
        [[Paragraph(_text(cell), _BODY) for cell in row] for row in facts],
        colWidths=[24 * mm, 66 * mm, 22 * mm, 66 * mm],
        hAlign="LEFT",
    )
    fact_table.setStyle(
        TableStyle(
            [
                ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
                ("TEXTCOLOR", (2, 0), (2, -1), colors.grey),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    story: list[Flowable] = [
        Paragraph("Skin lesion assessment", _TITLE),
        Paragraph(f"<b>{_text(SHORT_DISCLAIMER)}</b>", _WARN),
        Spacer(1, 6),
        fact_table,
        Spacer(1, 6),
        *_pictures(content),
        *_result(content),
        *_reviews(content),
        Paragraph(_text(analysis.disclaimer), _WARN),
        Spacer(1, 4),
        Paragraph(
            _text(
                f"Model {analysis.model.name}, version {analysis.model.version}. "
                f"Analysis {recorded.id}. Report generated {when_words(now)}."
            ),
            _SMALL,
        ),
    ]
    document.build(story)
    return buffer.getvalue()
