// What the browser may know about Hugging Face tokens (the Settings form validates with it before
// submitting); the rest is in huggingface.server.ts.

/**
 * A Hub access token as people copy it: "hf_" and letters and digits. The server's redaction
 * (app/runs/redact.server.ts) looks for the same shape, so a saved token can never reach a page.
 */
export const HF_TOKEN_PATTERN = /^hf_[A-Za-z0-9]{20,200}$/
