/** A store URL as it may be shown (log lines, CLI messages, reports): its password as `***`, never the password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(an unreadable url)'
  }
}
