/** The libc bindings live in the guest folder (sandbox/sdk/libc.ts): the Docker guest applies Landlock itself too. */
export * from '../../sdk/libc.ts'
