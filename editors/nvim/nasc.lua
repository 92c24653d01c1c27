-- Neovim (0.7+): start `nasc lsp` for .nas files. Source this from your config
-- (e.g. `luafile /path/to/nasc/editors/nvim/nasc.lua`), or copy it there.
vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, {
  pattern = "*.nas",
  callback = function(args)
    vim.bo[args.buf].filetype = "nas"
    local client = vim.lsp.start_client({
      name = "nasc",
      cmd = { vim.env.NASC or "nasc", "lsp" },
      root_dir = vim.fn.getcwd(),
    })
    if client then
      vim.lsp.buf_attach_client(args.buf, client)
    end
  end,
})
