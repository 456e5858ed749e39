export function Footer() {
  return <footer className="footer">Elysium {__ELYSIUM_VERSION__}</footer>;
}
