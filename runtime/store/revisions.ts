/** How many revisions of a workflow every backend keeps (newest first): a workflow applied all day cannot grow its history without bound. */
export const KEPT_REVISIONS = 100
