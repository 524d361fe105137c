import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from runbooks.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render


def test_script_tags_are_removed_with_their_content():
    html = render(
        "# Restart\n\n<script>alert('x')</script>\n\nThen <SCRIPT src=//evil.example/x.js></SCRIPT> wait."
    )
    assert "<script" not in html.lower()
    assert "alert" not in html
    assert "evil.example" not in html
    assert "<h1>Restart</h1>" in html


def test_javascript_links_lose_their_href():
    html = render(
        "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c]( javascript:alert(3))\n\n"
        '<a href="java&#x73;cript:alert(4)">d</a> <a href="data:text/html,<script>x</script>">e</a>'
    )
    assert "javascript" not in html.lower()
    assert "data:" not in html
    assert html.count("<a ") == 5  # the link text stays, the dangerous target goes
    assert "href" not in html


def test_event_handlers_styles_and_iframes_are_stripped():
    html = render(
        '<img src="x" onerror="alert(1)"> <p onclick="x()" style="position:fixed">hi</p>'
        '<iframe src="https://evil.example"></iframe><form action="/x"><input></form>'
    )
    for bad in ("onerror", "onclick", "style=", "<iframe", "<form", "<input", "<img"):
        assert bad not in html
    assert "hi" in html


def test_safe_markdown_survives():
    html = render(
        "## Steps\n\n1. Run `tlsctl renew`\n2. **Check** the [dashboard](https://grafana.example.com/d/x)\n\n"
        "```sh\nopenssl s_client -connect host:443\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h2>Steps</h2>" in html
    assert "<ol>" in html
    assert "<code>tlsctl renew</code>" in html
    assert (
        '<a href="https://grafana.example.com/d/x" rel="noopener noreferrer nofollow">dashboard</a>' in html
    )
    assert '<code class="language-sh">' in html
    assert "<table>" in html


def test_empty_text_renders_nothing():
    assert render("") == ""


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "</script>",
                "javascript:",
                "[x](",
                ")",
                '<a href="',
                '">',
                " onload=x ",
                "<svg ",
                "<img ",
                "&#x6a;",
                "alert(1)",
                "\n",
                " ",
                "`",
                "**",
                "data:",
                "<style>",
                '"',
                "'",
                ">",
                "<",
            ]
        )
        | st.text(max_size=5),
        max_size=30,
    ).map("".join)
)
def test_rendered_output_never_contains_active_content(text):
    """Whatever the input, the parsed output holds only allowed tags, attributes and schemes."""
    parser = _Collector()
    parser.feed(str(render(text)))
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS
        assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        # what a browser would take as the scheme (it drops whitespace and control characters)
        href = re.sub(r"[\x00-\x20]", "", attrs.get("href") or "").lower()
        scheme = re.match(r"^([a-z][a-z0-9+.-]*):", href)
        assert scheme is None or scheme.group(1) in {"http", "https", "mailto"}, href
