"""What a person reads about an analysis: its wording, heat-map pictures and the PDF report.

Shared by the web app and the REST API, so the page, the printout and the PDF
say the same thing in the same words.
"""
