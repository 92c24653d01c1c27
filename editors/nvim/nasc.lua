-- Neovim (0.10+): start `nasc lsp` for .nas files. Put this in your config, or source it.
vim.filetype.add({ extension = { nas = "nas" } })
vim.api.nvim_create_autocmd("FileType", {
  pattern = "nas",
  callback = function(args)
    vim.lsp.start({
      name = "nasc",
      cmd = { vim.env.NASC or "nasc", "lsp" },
      root_dir = vim.fs.root(args.buf, { ".git" }) or vim.fn.getcwd(),
    })
  end,
})
