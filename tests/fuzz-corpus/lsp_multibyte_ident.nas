// issue 16: hover next to `é` sliced inside the character
model Mé(x: [B, 8]) -> [B, 8] { let é = x |> relu
 return é }
