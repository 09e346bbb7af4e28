"""Realistic news pages built around articles we may redistribute, for extraction tests.

Real saved pages (Mozilla Readability's test pages, in ``../shared/html-pages``) belong
to their publishers and stay out of the repository. These pages copy only their
*structure*: each layout wraps a Wikinews article (CC BY 2.5, see
``evals/ATTRIBUTION.md``) in the furniture such sites serve: menus, cookie banners,
share bars, ad slots, teasers, comments, widgets, scripts. Every piece of furniture
text below was written for these tests; none of it is article text, so the tokens an
extractor returns can be scored as article or furniture.

``PAGES`` maps a layout name to ``(article file, builder)``; ``build(name)`` returns the
article and the page's bytes (each layout picks its own charset).
"""

# The page templates keep their markup on long lines, as sites serve it.
# ruff: noqa: E501

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

ARTICLES = Path(__file__).resolve().parent.parent / "evals" / "wikinews" / "articles"


@dataclass(frozen=True)
class Article:
    """A Wikinews article: first line the title, then paragraphs split by blank lines."""

    name: str
    title: str
    paragraphs: tuple[str, ...]

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def load(name: str) -> Article:
    lines = (ARTICLES / f"{name}.txt").read_text(encoding="utf-8").split("\n\n")
    title, *paragraphs = (" ".join(block.split()) for block in lines)
    return Article(name, title, tuple(p for p in paragraphs if p))


def _linked(text: str, n: int) -> str:
    """A paragraph as HTML with inline markup, as articles have: the n-th paragraph links
    its first proper name (after the first word) and emphasises a number, if any."""
    html = escape(text, quote=False)
    if n % 2 == 0:
        html = re.sub(
            r"(?<=\s)([A-Z][a-z]{3,}(?:\s[A-Z][a-z]+)*)",
            lambda m: f'<a href="/topic/{m.group(1).lower().replace(" ", "-")}">{m.group(1)}</a>',
            html,
            count=1,
        )
    else:
        html = re.sub(r"(?<=\s)(\d[\d,.]*)(?=\s)", r"<strong>\1</strong>", html, count=1)
    return f"<p>{html}</p>"


def _links(items: list[str], cls: str = "") -> str:
    cls_attr = f' class="{cls}"' if cls else ""
    lis = "".join(
        f'<li><a href="/{item.lower().replace(" ", "-")}">{escape(item)}</a></li>' for item in items
    )
    return f"<ul{cls_attr}>{lis}</ul>"


def _chunks(paragraphs: tuple[str, ...], n: int) -> list[tuple[str, ...]]:
    """Split paragraphs into n consecutive, nearly equal, non-empty runs."""
    size, extra = divmod(len(paragraphs), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (i < extra)
        out.append(paragraphs[start:end])
        start = end
    return [c for c in out if c]


# -- 1. a WordPress blog: masthead, menu, sidebar widgets, related posts, comments ----------


def wordpress(a: Article) -> bytes:
    title = escape(a.title)
    body = "\n".join(_linked(p, i) for i, p in enumerate(a.paragraphs))
    comments = [
        ("Dave K.", "March 9 at 8:14 am", "Great write-up, thanks for posting this. I had "
         "been wondering what was going on and nobody at work could explain it properly."),
        ("sunnyside_77", "March 9 at 11:52 am", "I disagree with some of the commenters "
         "here. People always complain about change, and then a year later nobody remembers "
         "what the fuss was about. Just my two cents."),
        ("Priya", "March 10 at 6:03 pm", "Bookmarked! Would love a follow-up post once "
         "there is more news. Keep up the good work on this blog, it is one of the few I "
         "still read every week."),
    ]  # fmt: skip
    comment_html = "".join(
        f'<li id="comment-{i}" class="comment even thread-even depth-1">'
        f'<article id="div-comment-{i}" class="comment-body"><footer class="comment-meta">'
        f'<div class="comment-author vcard"><img class="avatar" src="/avatar-{i}.png" alt="">'
        f'<b class="fn">{who}</b> <span class="says">says:</span></div>'
        f'<div class="comment-metadata"><a href="#comment-{i}"><time>{when}</time></a></div>'
        f'</footer><div class="comment-content"><p>{text}</p></div>'
        f'<div class="reply"><a class="comment-reply-link" href="?replytocom={i}">Reply</a>'
        "</div></article></li>"
        for i, (who, when, text) in enumerate(comments, start=101)
    )
    related = [
        ("Five browser extensions I cannot live without", "A short list of the small tools "
         "that make my daily browsing faster, safer and a lot less annoying."),
        ("Why I finally switched my home server to Linux", "After years of putting it off, "
         "I spent a weekend migrating everything. Here is what went well and what did not."),
        ("Reader mailbag: your questions about backups", "You asked, I answered: how often "
         "to back up, where to keep the copies, and which services are worth paying for."),
    ]  # fmt: skip
    related_html = "".join(
        f'<div class="jp-relatedposts-post"><h4 class="jp-relatedposts-post-title">'
        f'<a href="/related-{i}">{t}</a></h4><p class="jp-relatedposts-post-excerpt">{x}</p>'
        f'<p class="jp-relatedposts-post-date">{2010 + i}</p></div>'
        for i, (t, x) in enumerate(related)
    )
    page = f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &#8211; The Tech Corner</title>
<link rel="stylesheet" id="twentyseventeen-style-css" href="/wp-content/themes/style.css">
<script type="text/javascript">window._wpemojiSettings = {{"baseUrl":"https:\\/\\/s.w.org\\/images\\/core\\/emoji\\/","ext":".png","source":{{"concatemoji":"\\/wp-includes\\/js\\/wp-emoji-release.min.js"}}}};</script>
<style type="text/css">img.wp-smiley, img.emoji {{ display: inline !important; border: none; height: 1em; }}</style>
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="The Tech Corner">
</head>
<body class="post-template-default single single-post postid-4711 single-format-standard">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header" role="banner">
  <div class="site-branding">
    <p class="site-title"><a href="/" rel="home">The Tech Corner</a></p>
    <p class="site-description">Notes on software, gadgets and the web since 2006</p>
  </div>
  <nav id="site-navigation" class="main-navigation" role="navigation" aria-label="Top Menu">
    <button class="menu-toggle" aria-controls="top-menu">Menu</button>
    {_links(["Home", "Reviews", "How To", "Opinion", "Podcast", "About", "Contact"], "menu")}
  </nav>
</header>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main" role="main">
<article id="post-4711" class="post-4711 post type-post status-publish format-standard hentry category-news">
  <header class="entry-header">
    <div class="entry-meta"><span class="posted-on">Posted on <a href="/2011/03/08/" rel="bookmark"><time class="entry-date published" datetime="2011-03-08T09:12:00+00:00">March 8, 2011</time></a></span>
    <span class="byline"> by <span class="author vcard"><a class="url fn n" href="/author/admin/">admin</a></span></span></div>
    <h1 class="entry-title">{title}</h1>
  </header>
  <div class="entry-content">
{body}
  </div>
  <footer class="entry-footer"><span class="cat-links">Categories: <a href="/category/news/" rel="category tag">News</a>, <a href="/category/browsers/" rel="category tag">Browsers</a></span>
  <span class="tags-links">Tags: <a href="/tag/windows/" rel="tag">windows</a>, <a href="/tag/web/" rel="tag">web</a></span>
  <span class="edit-link"><a class="post-edit-link" href="/wp-admin/post.php?post=4711">Edit</a></span></footer>
</article>
<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>Related</em></h3>
{related_html}</div>
<nav class="navigation post-navigation" role="navigation"><h2 class="screen-reader-text">Post navigation</h2>
<div class="nav-links"><div class="nav-previous"><a href="/previous/" rel="prev"><span class="meta-nav">Previous Post</span> Hands-on with the new budget tablets</a></div>
<div class="nav-next"><a href="/next/" rel="next"><span class="meta-nav">Next Post</span> Podcast episode 212: listener questions</a></div></div></nav>
<div id="comments" class="comments-area">
  <h2 class="comments-title">3 comments</h2>
  <ol class="comment-list">{comment_html}</ol>
  <div id="respond" class="comment-respond">
    <h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
    <form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form">
      <p class="comment-notes">Your email address will not be published. Required fields are marked *</p>
      <p class="comment-form-comment"><label for="comment">Comment</label><textarea id="comment" name="comment"></textarea></p>
      <p class="comment-form-author"><label for="author">Name *</label><input id="author" name="author" type="text"></p>
      <p class="comment-form-email"><label for="email">Email *</label><input id="email" name="email" type="email"></p>
      <p class="comment-form-cookies-consent"><input id="wp-comment-cookies-consent" type="checkbox"><label for="wp-comment-cookies-consent">Save my name, email, and website in this browser for the next time I comment.</label></p>
      <p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="Post Comment"></p>
    </form>
  </div>
</div>
</main>
</div>
<aside id="secondary" class="widget-area" role="complementary">
  <section id="search-2" class="widget widget_search"><form role="search" method="get" class="search-form" action="/"><label><span class="screen-reader-text">Search for:</span><input type="search" class="search-field" placeholder="Search &hellip;" name="s"></label><button type="submit" class="search-submit">Search</button></form></section>
  <section id="text-3" class="widget widget_text"><h2 class="widget-title">About this blog</h2><div class="textwidget"><p>I am a software developer who writes about the tools I use every day. Opinions are my own and not those of my employer. Got a tip? Use the contact page.</p></div></section>
  <section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2>
    {_links(["Hands-on with the new budget tablets", "Podcast episode 212: listener questions", "My desk setup for this year", "Password managers compared", "A gentle introduction to regular expressions"])}</section>
  <section id="recent-comments-2" class="widget widget_recent_comments"><h2 class="widget-title">Recent Comments</h2>
    <ul id="recentcomments"><li class="recentcomments"><span class="comment-author-link">Priya</span> on <a href="#comment-103">this post</a></li><li class="recentcomments"><span class="comment-author-link">Tom B.</span> on <a href="/desk/">My desk setup for this year</a></li></ul></section>
  <section id="archives-2" class="widget widget_archive"><h2 class="widget-title">Archives</h2>{_links(["March 2011", "February 2011", "January 2011", "December 2010", "November 2010"])}</section>
  <section id="categories-2" class="widget widget_categories"><h2 class="widget-title">Categories</h2>{_links(["Browsers", "Gadgets", "Linux", "News", "Podcast", "Security"])}</section>
  <section id="meta-2" class="widget widget_meta"><h2 class="widget-title">Meta</h2>{_links(["Log in", "Entries feed", "Comments feed", "WordPress.org"])}</section>
</aside>
</div>
<footer id="colophon" class="site-footer" role="contentinfo">
  <div class="site-info"><a href="https://wordpress.org/">Proudly powered by WordPress</a> | Theme by a friendly designer. &copy; 2006&ndash;2011 The Tech Corner. All rights reserved.</div>
</footer>
</div>
<script type="text/javascript" src="/wp-includes/js/wp-embed.min.js"></script>
<script>(function(){{var s=document.createElement('script');s.src='/stats.js';document.body.appendChild(s);}})();</script>
</body>
</html>
"""
    return page.encode("utf-8")


# -- 2. a newspaper: cookie banner, breadcrumb, byline, share bar, ads and teasers inline ----


def newspaper(a: Article) -> bytes:
    title = escape(a.title)
    teasers = [
        "Markets rally as investors shrug off rate fears",
        "Storm warning issued for coastal towns this weekend",
        "Opinion: our cities need more trees, not more car parks",
        "Museum reopens after two-year renovation",
    ]
    parts: list[str] = []
    for i, paragraph in enumerate(a.paragraphs):
        parts.append(_linked(paragraph, i))
        if i == 0:
            parts.append(
                '<figure class="inline-image"><img src="/img/main.jpg" alt="">'
                '<figcaption><span class="caption-text">Emergency crews at the scene on '
                'Friday morning.</span> <span class="credit">Photo: Staff photographer'
                "</span></figcaption></figure>"
            )
        if i % 3 == 1:
            parts.append(
                f'<div class="ad-slot ad-slot--inline" id="ad-inline-{i}">'
                '<span class="ad-label">Advertisement</span>'
                f'<div id="div-gpt-ad-1500000000-{i}"></div>'
                f"<script>googletag.cmd.push(function(){{googletag.display('div-gpt-ad-{i}');}});"
                "</script></div>"
            )
        if i % 4 == 2:
            parts.append(
                f'<p class="read-more"><strong>READ MORE:</strong> '
                f'<a href="/news/{i}">{teasers[(i // 4) % len(teasers)]}</a></p>'
            )
    body = "\n".join(parts)
    most_read = [
        "Train timetable changes: what commuters need to know",
        "Ten of the best walks within an hour of the city",
        "Council tax to rise for the third year running",
        "Local bakery wins national award for its sourdough",
        "Quiz of the week: how closely were you following the news?",
    ]
    page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{title} | World news | The Daily Courier</title>
<meta name="description" content="Latest world news, analysis and comment from The Daily Courier.">
<meta property="og:title" content="{title}">
<meta name="twitter:card" content="summary_large_image">
<link rel="canonical" href="https://courier.example/world/2014/jul/17/story">
<script>var dataLayer = [{{"section":"world","pageType":"article","paywall":"metered"}}];</script>
<script async src="https://securepubads.example/tag/js/gpt.js"></script>
</head>
<body class="article-page section-world">
<div id="cookie-consent" class="cmp-banner" role="dialog" aria-label="Cookie consent">
  <h2>We value your privacy</h2>
  <p>We and our partners store and access information on your device, such as cookies, to
  personalise content and advertising, provide social media features and analyse our
  traffic. You can accept all cookies or manage your preferences at any time by clicking
  Privacy settings at the bottom of every page.</p>
  <button class="cmp-accept">Accept all</button> <button class="cmp-manage">Manage preferences</button>
</div>
<div class="top-bar"><span class="date">Friday 18 July 2014</span>
  <a href="/subscribe" class="top-bar__subscribe">Subscribe</a> <a href="/login">Sign in</a>
  <span class="weather">London 21&deg;C</span></div>
<header class="site-header">
  <a class="logo" href="/"><img src="/logo.svg" alt="The Daily Courier"></a>
  <nav class="primary-nav" aria-label="Sections">{_links(["News", "World", "Business", "Politics", "Sport", "Culture", "Lifestyle", "Opinion", "Puzzles"])}</nav>
</header>
<div class="ad-slot ad-slot--leaderboard"><span class="ad-label">Advertisement</span><div id="div-gpt-ad-top"></div></div>
<main class="page-main">
<nav class="breadcrumb" aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/world">World</a></li><li><a href="/world/europe">Europe</a></li></ol></nav>
<article class="story">
  <header class="story__header">
    <h1 class="story__headline">{title}</h1>
    <div class="story__byline">By <a rel="author" href="/profile/foreign-desk">Anna Whitfield</a>, World Affairs Correspondent</div>
    <div class="story__timestamp"><time datetime="2014-07-18T07:30:00Z">Updated 07:30 BST, 18 July 2014</time></div>
    <ul class="share-bar" aria-label="Share this article">
      <li><a class="share--facebook" href="#">Share on Facebook</a></li>
      <li><a class="share--twitter" href="#">Share on Twitter</a></li>
      <li><a class="share--email" href="#">Email</a></li>
      <li><button class="share--copy">Copy link</button></li>
      <li><span class="comment-count">214 comments</span></li>
    </ul>
  </header>
  <div class="story__body">
{body}
  </div>
  <footer class="story__footer">
    <div class="topics"><h3>Topics</h3>{_links(["Europe", "Aviation", "Conflict"], "topic-list")}</div>
    <ul class="share-bar share-bar--bottom"><li><a href="#">Facebook</a></li><li><a href="#">Twitter</a></li><li><a href="#">WhatsApp</a></li></ul>
    <p class="corrections">Spotted an error? <a href="/corrections">Tell us about it</a>.</p>
  </footer>
</article>
<aside class="most-read" aria-label="Most read"><h2>Most read</h2>
  <ol>{"".join(f'<li><a href="/mr/{i}"><span class="rank">{i}</span> {t}</a></li>' for i, t in enumerate(most_read, 1))}</ol>
</aside>
<section class="more-from"><h2>More from World</h2>
  <div class="card"><a href="/w/1"><h3>Floods force thousands from their homes in the north</h3></a><p>Rescue teams worked through the night as rivers burst their banks after a week of heavy rain.</p></div>
  <div class="card"><a href="/w/2"><h3>Election result too close to call, officials say</h3></a><p>Both main parties claimed they were on course for victory as counting continued into the morning.</p></div>
  <div class="card"><a href="/w/3"><h3>Heatwave brings record temperatures across the south</h3></a><p>Forecasters expect the hot spell to last at least until the middle of next week.</p></div>
</section>
</main>
<footer class="site-footer">
  <nav>{_links(["About us", "Contact us", "Advertise with us", "Terms and conditions", "Privacy policy", "Cookie settings", "Accessibility", "Careers", "Newsletters"])}</nav>
  <p class="copyright">&copy; 2014 The Daily Courier Ltd. Registered in England and Wales. All rights reserved.</p>
</footer>
<script>window.addEventListener('load', function () {{ document.body.classList.add('loaded'); }});</script>
</body>
</html>
"""
    return page.encode("utf-8")


# -- 3. a React app: JSON-LD, hydration data, class-hashed blocks, inline scripts, noscript ----


def react_app(a: Article) -> bytes:
    first_sentence = a.paragraphs[0].split(". ")[0] + "."
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": a.title,
        "description": first_sentence,
        "datePublished": "2017-11-06T18:00:00Z",
        "author": {"@type": "Organization", "name": "Newsroom Staff"},
        "publisher": {"@type": "Organization", "name": "Pulse News"},
        "inLanguage": "en",
    }
    next_data = {
        "props": {"pageProps": {"article": {"headline": a.title, "blocks": list(a.paragraphs)}}},
        "page": "/[section]/[slug]",
        "buildId": "k3Jd9sQ2",
    }
    hydration = json.dumps(next_data).replace("</", "<\\/")
    blocks = "\n".join(
        f'<div data-component="text-block" class="css-83cqas-RichTextContainer e5tfeyi2">'
        f'<p class="css-1q0x1qg-Paragraph e1jhz7w10">{escape(p, quote=False)}</p></div>'
        for p in a.paragraphs
    )
    stories = [
        ("Scientists map the ocean floor in record detail", "A new survey shows ridges and "
         "canyons that were never charted before, researchers say."),
        ("Why your phone battery drains faster in winter", "Cold weather slows the chemistry "
         "inside lithium cells; here is how to keep yours going."),
        ("The town that runs on geothermal heat", "Residents have not paid a heating bill in "
         "years thanks to the hot springs under their streets."),
    ]  # fmt: skip
    top_stories = "".join(
        f'<li class="css-1v3ow4d-StoryItem"><a href="/s/{i}" class="css-yoa8xy-PromoLink">'
        f'<span class="css-1aofmbn-PromoHeadline"><span>{h}</span></span></a>'
        f'<p class="css-1pc5lhz-Summary">{s}</p></li>'
        for i, (h, s) in enumerate(stories)
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(a.title)} - Pulse News</title>
<meta property="og:title" content="{escape(a.title)}">
<meta property="og:site_name" content="Pulse News">
<script type="application/ld+json">{json.dumps(ld)}</script>
<style data-emotion="css 83cqas 1q0x1qg">.css-83cqas-RichTextContainer{{margin:0 auto;max-width:640px;}}.css-1q0x1qg-Paragraph{{font-family:ReithSerif,Helvetica,Arial,sans-serif;line-height:1.5;padding-bottom:1.5rem;}}@media (min-width:37.5rem){{.css-1q0x1qg-Paragraph{{font-size:1.125rem;}}}}</style>
<script>window.__CONFIG__ = {{"env":"live","features":{{"liveTicker":true,"comments":false}},"region":"us"}};</script>
<script>!function(e,t){{var n=t.createElement("script");n.async=!0,n.src="/analytics/beacon.js",t.head.appendChild(n)}}(window,document);</script>
</head>
<body>
<noscript><p class="css-nojs">This site works best with JavaScript enabled. Please turn it on in your browser settings to see live updates and videos.</p><img src="/pixel.gif?js=0" width="1" height="1" alt=""></noscript>
<div id="__next" data-reactroot="">
<div class="css-1c0b0j6-PageWrapper">
<header data-testid="header" class="css-qbbh1a-Header">
  <a href="/" class="css-1t2pd6c-Brand"><svg aria-label="Pulse News" viewBox="0 0 84 24"><path d="M0 0h84v24H0z"></path></svg></a>
  <nav data-testid="nav" class="css-19dvmhm-Nav">{_links(["Home", "US", "World", "Politics", "Tech", "Science", "Health", "Video"], "css-1f2ksx2-NavList")}</nav>
  <button class="css-search" aria-label="Search">Search</button> <a class="css-signin" href="/account">Sign in</a>
</header>
<div data-testid="live-ticker" class="css-7kto5d-Ticker"><span>LIVE</span> <a href="/live">Follow the latest updates from the summit</a></div>
<main id="main-content" class="css-1ed9qie-Main">
<article class="css-1pk3bs6-ArticleWrapper">
<header data-component="headline-block" class="css-1xfmjtd-HeadlineBlock"><h1 id="main-heading" class="css-1i7rbv6-StyledHeading">{escape(a.title)}</h1></header>
<div data-component="byline-block" class="css-byline"><span>By Newsroom Staff</span> <time datetime="2017-11-06T18:00:00Z">6 November 2017</time></div>
<figure data-component="image-block" class="css-image"><img src="/i/lead.jpg" alt="" loading="lazy"><figcaption class="css-caption">A view from the research station at dawn. Image source: Getty Images</figcaption></figure>
{blocks}
<div data-component="links-block" class="css-related"><h2>Related topics</h2>{_links(["Climate", "Science", "US government"], "css-topic-list")}</div>
</article>
<section data-testid="top-stories" class="css-top"><h2>Top stories</h2><ul class="css-top-list">{top_stories}</ul></section>
<section data-testid="sponsored" class="css-sponsored"><h2>Promoted content</h2>
  <a href="https://ads.example/1">Doctors stunned by this one simple kitchen trick</a>
  <a href="https://ads.example/2">Homeowners in your area are switching to this plan</a>
  <span class="css-sponsor-label">Sponsored links by AdNetwork</span></section>
</main>
<footer data-testid="footer" class="css-footer">{_links(["Terms of Use", "About Pulse", "Privacy Policy", "Cookies", "Accessibility Help", "Contact Us"], "css-footer-links")}<p>Copyright &copy; 2017 Pulse News. Pulse is not responsible for the content of external sites.</p></footer>
</div>
</div>
<script id="__NEXT_DATA__" type="application/json">{hydration}</script>
<script>window.__INITIAL_STATE__={{"user":null,"consent":{{"ads":false}}}};requestAnimationFrame(function(){{window.__hydrated=true}});</script>
</body>
</html>
"""
    return page.encode("utf-8")


# -- 4. a magazine: the body split over several <div>s, a newsletter box in the middle ------


def magazine(a: Article) -> bytes:
    linked = tuple(_linked(p, i) for i, p in enumerate(a.paragraphs))
    sections = [
        '<div class="article-body__section rich-text">' + "".join(chunk) + "</div>"
        for chunk in _chunks(linked, 3)
    ]
    newsletter = """<div class="newsletter-signup" id="newsletter-inline">
  <h3 class="newsletter-signup__title">Get the Weekly Dispatch</h3>
  <p class="newsletter-signup__pitch">Our best stories, hand-picked by the editors and delivered to your inbox every Sunday morning. Free, and you can unsubscribe at any time.</p>
  <form action="/newsletter" method="post"><label for="nl-email">Email address</label><input id="nl-email" type="email" placeholder="you@example.com"><button type="submit">Sign up</button></form>
  <p class="newsletter-signup__legal">By signing up you agree to our Terms of Service and acknowledge our Privacy Policy.</p>
</div>"""
    figure = """<figure class="article-figure"><img src="/media/wide.jpg" alt="">
  <figcaption><div class="caption">Visitors line up outside the exhibition hall on opening day.</div><div class="attribution">Illustration by the art desk</div></figcaption></figure>"""
    body = f"{sections[0]}\n{newsletter}\n{sections[1]}\n{figure}\n{sections[2]}"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(a.title)} | Orbit Magazine</title>
<meta property="og:title" content="{escape(a.title)}">
<link rel="stylesheet" href="/static/main.css">
</head>
<body class="template-article">
<div id="root"><div id="app">
<header class="nav"><nav class="nav__main">{_links(["Physics", "Space", "Biology", "Computing", "Columns", "Podcasts", "Archive"])}</nav>
  <a class="nav__subscribe" href="/subscribe">Subscribe</a></header>
<div class="post" id="postContent">
  <div class="post__title">
    <h6 class="post__kicker">Spaceflight</h6>
    <h1 class="post__title__title">{escape(a.title)}</h1>
    <div class="post__author-date">By <a href="/authors/staff">Magazine Staff</a> &middot; April 13, 2011</div>
    <div class="post__meta"><a href="#comments">12 comments</a> <a href="#" class="share">Share</a> <a href="#" class="save">Read later</a></div>
  </div>
  <div class="post__body">
{body}
  </div>
  <div class="author-bio"><img src="/authors/staff.jpg" alt=""><p>Magazine Staff covers space exploration and the people behind it. Send story ideas to the newsroom.</p></div>
  <section class="related-carousel"><h2>Related</h2>
    <div class="card"><a href="/r/1">How telescopes learned to see in the dark</a></div>
    <div class="card"><a href="/r/2">The engineers who keep old satellites alive</a></div>
    <div class="card"><a href="/r/3">A brief history of launch-day weather</a></div>
  </section>
  <section id="comments" class="comments"><h2>12 comments</h2><p class="comments__closed">Comments are closed for this article. Read our community guidelines.</p></section>
</div>
<footer class="footer"><p>Orbit Magazine is an editorially independent publication.</p>{_links(["About", "Masthead", "Careers", "Contact", "Privacy", "Terms"])}<p>All rights reserved &copy; 2011</p></footer>
</div></div>
<script src="/static/bundle.js" defer></script>
</body>
</html>
"""
    return page.encode("utf-8")


# -- 5. a French newspaper, served as windows-1252 with <html lang="fr"> ---------------------


def journal_fr(a: Article) -> bytes:
    lire = [
        "Au Chili, les mineurs reprennent le travail après trois semaines de grève",
        "En Uruguay, les coopératives ouvrières séduisent une nouvelle génération",
        "Amérique latine : la dette, vingt ans après la crise",
    ]
    parts: list[str] = []
    for i, paragraph in enumerate(a.paragraphs):
        parts.append(_linked(paragraph, i))
        if i % 4 == 1:
            parts.append(
                f'<p class="lire"><span>Lire aussi :</span> <a href="/lire/{i}">'
                f"{lire[(i // 4) % len(lire)]}</a></p>"
            )
        if i == 5:
            parts.append('<div class="position_pub"><span>Publicité</span></div>')
    body = "\n".join(parts)
    page = f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>{escape(a.title)} - Le Quotidien du Sud</title>
<meta property="og:title" content="{escape(a.title)}">
<meta property="og:locale" content="fr_FR">
<script>var xtsite = 51234; var xtpage = "international::ameriques::article";</script>
</head>
<body class="pixels">
<header id="header">
  <div class="bandeau_info_importante">Alerte : suivez notre direct sur les élections régionales</div>
  <div id="surheader"><p class="gauche">Édition du jour</p>
    <ul class="services droite"><li><a href="/abonnement">S'abonner</a></li><li><a href="/connexion">Se connecter</a></li><li><a href="/journal">Le journal en PDF</a></li></ul></div>
</header>
<nav id="nav">{_links(["Actualités", "International", "Politique", "Société", "Économie", "Culture", "Sport", "Planète", "Idées"])}</nav>
<div class="position_pub top banniere"><span>Publicité</span></div>
<div class="global">
<div class="fil_ariane"><a href="/">Accueil</a> › <a href="/international">International</a> › <a href="/ameriques">Amériques</a></div>
<article class="article article_normal">
  <h1 class="tt2">{escape(a.title)}</h1>
  <p class="bloc_signature">Par <span class="auteur">la rédaction Amériques</span> · Publié le 26 avril 2005 à 10h12 · Mis à jour le 26 avril 2005 à 15h40</p>
  <div class="toolbar"><a href="#">Partager sur Facebook</a> <a href="#">Partager sur Twitter</a> <a href="#">Envoyer par courriel</a> <a href="#reactions">Réagir</a></div>
  <div id="articleBody" class="contenu_article js_article_body">
{body}
  </div>
</article>
<aside class="bloc_base meme_sujet"><h2>Sur le même sujet</h2>{_links(["Brésil : le gouvernement annonce un plan pour l'emploi", "Argentine : manifestation monstre à Buenos Aires", "Mexique : les syndicats appellent à la grève générale"])}</aside>
<div id="liste_reactions"><h2>Réactions</h2><p>Les réactions sont réservées à nos abonnés. Déjà abonné ? Connectez-vous.</p></div>
</div>
<div id="footer">
  <div class="footer_gratuit"><p>Profitez de notre offre de bienvenue : un mois offert, sans engagement.</p></div>
  {_links(["Mentions légales", "Conditions générales", "Politique de confidentialité", "Gestion des cookies", "Charte des réactions", "Nous contacter", "Publicité"], "footer_liens")}
  <p class="copy">© Le Quotidien du Sud 2005 - Reproduction interdite de tous les articles, sauf accord de la rédaction.</p>
</div>
</body>
</html>
"""
    return page.encode("windows-1252")


PAGES: dict[str, tuple[str, Callable[[Article], bytes]]] = {
    "wordpress": ("016-microsoft-ie6-countdown", wordpress),
    "newspaper": ("010-mh17-shot-down-ukraine", newspaper),
    "react-app": ("025-us-climate-science-special-report", react_app),
    "split-body": ("036-nasa-retired-shuttle-homes", magazine),
    "french-cp1252": ("018-zanon-workers-factory-control", journal_fr),
}


def build(layout: str) -> tuple[Article, bytes]:
    """The article and the page (bytes, in the layout's charset) for a layout in PAGES."""
    name, builder = PAGES[layout]
    article = load(name)
    return article, builder(article)
