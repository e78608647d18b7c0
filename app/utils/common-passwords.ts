// The most common passwords of 8+ characters in public breach lists. A password on this list is
// refused at sign-up, reset and change. Lower-case; compare after lower-casing.
export const COMMON_PASSWORDS = new Set([
  '12345678', '123456789', '1234567890', '12345678910', '87654321', '11111111', '00000000',
  '88888888', '66666666', '22222222', '99999999', '123123123', '1q2w3e4r', '1q2w3e4r5t',
  '1qaz2wsx', 'qwertyui', 'qwertyuiop', 'asdfghjk', 'zxcvbnm1', 'qwerty123', 'qwerty12',
  'password', 'password1', 'password12', 'password123', 'passw0rd', 'p@ssw0rd', 'p@ssword',
  'iloveyou', 'iloveyou1', 'sunshine', 'princess', 'football', 'baseball', 'welcome1',
  'welcome123', 'superman', 'trustno1', 'letmein1', 'starwars', 'whatever', 'computer',
  'michelle', 'jennifer', 'charlie1', 'abcd1234', 'abc12345', 'abcdefgh', 'admin123',
  'administrator', 'changeme', 'default1', 'dragon12', 'master12', 'monkey12', 'mustang1',
  'shadow12', 'football1', 'baseball1', 'jordan23', 'liverpool', 'chelsea1', 'arsenal1',
  'samsung1', 'internet', 'qazwsxedc', 'zaq12wsx', 'aa123456', 'a1234567', 'a12345678',
  'trainyard', 'trainyard1', 'q1w2e3r4', 'q1w2e3r4t5', 'asdf1234', 'test1234', 'testtest',
  'secret12', 'secret123', 'hello123', 'hellohello', 'loveyou1', 'lovelove', 'freedom1',
  'whatever1', 'qwer1234', 'pass1234', 'letmein123', 'welcome12', 'summer2024', 'summer2025',
  'winter2024', 'winter2025', 'spring2025', 'autumn2025', 'password2024', 'password2025',
  'password2026', 'summer2026', 'winter2026',
])

export function isCommonPassword(password: string) {
  return COMMON_PASSWORDS.has(password.toLowerCase())
}
