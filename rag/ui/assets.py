"""The UI's CSS and its one piece of page JavaScript (the answers' Copy button), passed to `launch`."""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
.rag-answer { line-height: 1.65; position: relative; }
.rag-answer .rag-text { white-space: pre-wrap; }
.rag-answer .rag-ref { font-size: 0.75em; vertical-align: super; color: #2563eb; font-weight: 600; }
.rag-badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 0.85em;
             font-weight: 600; margin-bottom: 6px; }
.rag-badge.refused { background: #fef3c7; color: #92400e; border: 1px solid #f59e0b; }
.rag-badge.error { background: #fee2e2; color: #991b1b; border: 1px solid #ef4444; }
.rag-reason { color: #6b7280; font-size: 0.9em; }
.rag-note { color: #92400e; font-size: 0.85em; margin: 4px 0; }
.rag-sources { margin-top: 10px; border-top: 1px solid #e5e7eb; padding-top: 6px; }
.rag-sources-title { font-weight: 600; font-size: 0.9em; margin-bottom: 4px; }
.rag-sources details { margin: 4px 0; border: 1px solid #e5e7eb; border-radius: 6px; padding: 4px 8px; }
.rag-sources summary { cursor: pointer; font-size: 0.9em; }
.rag-sources .rag-num { color: #2563eb; font-weight: 700; margin-right: 4px; }
.rag-sources .rag-summary-meta { color: #6b7280; }
.rag-quote { white-space: pre-wrap; margin: 6px 0; padding: 6px 10px; border-left: 3px solid #2563eb;
             background: rgba(37, 99, 235, 0.05); font-size: 0.92em; }
.rag-quote .rag-outer { color: #9ca3af; }
.rag-quote mark { background: #fde68a; color: inherit; padding: 0 1px; }
.rag-fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 0.82em;
              color: #4b5563; margin: 0; }
.rag-fields dt { font-weight: 600; margin: 0; }
.rag-fields dd { margin: 0; word-break: break-all; }
.rag-foot { display: flex; gap: 10px; align-items: flex-start; margin-top: 6px; }
.rag-details { font-size: 0.8em; color: #6b7280; flex: 1; }
.rag-details summary { cursor: pointer; }
.rag-copy { font-size: 0.8em; border: 1px solid #d1d5db; border-radius: 6px; padding: 0 8px; cursor: pointer;
            background: transparent; color: inherit; }
.rag-plain { display: none !important; }
.rag-pending { margin-top: 8px; padding: 6px 10px; border: 1px dashed #93c5fd; border-radius: 6px; }
.rag-pending-title { font-size: 0.8em; color: #2563eb; }
.rag-pending .rag-text { white-space: pre-wrap; color: #374151; }
.rag-status-ok { color: #166534; }
.rag-status-error { color: #991b1b; font-weight: 600; }
.rag-preview h3 { margin: 4px 0 8px; }
.rag-preview table { border-collapse: collapse; font-size: 0.88em; margin-bottom: 10px; }
.rag-preview td, .rag-preview th { border: 1px solid #e5e7eb; padding: 2px 8px; text-align: left; vertical-align: top; }
.rag-doc-text { white-space: pre-wrap; max-height: 520px; overflow: auto; border: 1px solid #e5e7eb;
                border-radius: 6px; padding: 8px 12px; font-size: 0.9em; line-height: 1.6; }
.rag-doc-text mark, .rag-preview td mark { background: #fde68a; color: inherit; }
.rag-doc-text mark .rag-span-label { font-size: 0.7em; color: #92400e; vertical-align: super; margin-left: 2px; }
"""

# Gradio's own per-message copy button copies a message's HTML, so answers carry their own: it copies the
# answer's plain text from its hidden <pre class="rag-plain"> (the chat's HTML sanitizer keeps <pre hidden> and
# <button>, but drops data- attributes and event handlers, hence one delegated listener for the page).
JS = """
() => {
  document.addEventListener('click', async (event) => {
    const button = event.target && event.target.closest ? event.target.closest('.rag-copy') : null;
    if (!button) return;
    event.preventDefault();
    const answer = button.closest('.rag-answer');
    const payload = answer ? answer.querySelector('.rag-plain') : null;
    const text = payload ? payload.textContent : '';
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {  // no async clipboard (a plain-http address other than localhost): the old way
      const area = document.createElement('textarea');
      area.value = text;
      area.style.position = 'fixed';
      area.style.left = '-9999px';
      document.body.appendChild(area);
      area.select();
      try { document.execCommand('copy'); } finally { area.remove(); }
    }
    if (button.ragLabel === undefined) button.ragLabel = button.textContent;  // a second click keeps the label
    button.textContent = '✓ ' + button.ragLabel;
    setTimeout(() => { button.textContent = button.ragLabel; }, 1500);
  });
}
"""
