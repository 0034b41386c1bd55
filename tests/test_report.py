"""The eval report: every answer shown as a reader sees it (rendered Markdown, nothing active)."""

from __future__ import annotations

from eval.report import markdown, render


def test_markdown_renders_structure_and_neutralises_html_links_and_images():
    html = markdown("Lead-in: [1]\n\n- first <script>alert(1)</script> [1]\n- ![x](http://e.com/x.png) "
                    "[see](http://e.com) [2]")
    assert "<ul>" in html and html.count("<li>") == 2 and "<p>Lead-in: [1]</p>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<a " not in html


def test_report_lists_every_answer_with_its_answerer():
    summary = {"questions": 2, "answerable": 2, "unanswerable": 0, "k": 5, "ci95": {}}
    rows = [{"id": "q1", "question": "Which tools?", "answer": "They include: [1]\n\n- Jenkins [1]\n- Chef [1]",
             "answerer": "extractive", "refused": False, "citations": []},
            {"id": "q2", "question": "Price?", "answer": "I can't find that.", "answerer": "extractive",
             "refused": True, "reason": "no quantity", "false_refusal": True, "citations": []}]
    page = render(summary, rows, None, "run")
    every = page.split("Every answer")[1]
    assert "<li>Jenkins [1]</li>" in every and "q2" in every and "refused: no quantity" in every
