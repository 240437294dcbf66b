/**
 * The app's error boundary: a render error below it shows an error box (the message as text, a reload link) in
 * place of the page instead of blanking the whole app; what is outside it (the header, the nav) keeps working.
 * A new `resetKey` (the route) clears the error, so following a link leaves the broken page.
 */
import { Component, type ComponentChildren } from 'preact'

interface Props { resetKey: string; children: ComponentChildren }
/** The error caught, and the `resetKey` it was caught under: under another key it no longer shows. */
interface State { error?: { value: unknown; at: string } }

export class Boundary extends Component<Props, State> {
  override state: State = {}

  override componentDidCatch(error: unknown): void {
    console.error('the page failed to render:', error)
    this.setState({ error: { value: error, at: this.props.resetKey } })
  }

  override render() {
    const { error } = this.state
    if (error === undefined || error.at !== this.props.resetKey) return this.props.children
    const text = error.value instanceof Error ? error.value.message : String(error.value)
    return (
      <div class="error" role="alert" data-code="RENDER_ERROR" data-testid="render-error">
        <strong>This page failed to render</strong> {text} <a href="" onClick={(e) => { e.preventDefault(); location.reload() }}>reload</a>
      </div>
    )
  }
}
