// PLACEHOLDER — the GitHub helper replaces this with the real button (a POST form to /auth/github).
export function GitHubLoginButton(_: { redirectTo?: string | null; label?: string }) {
  return null
}
